-- thoonk-xmpp: the XEP-0114 external component block for Prosody (0.12 or later).
--
-- Use it as is:
--   1. Copy this file next to prosody.cfg.lua (Debian: into /etc/prosody/conf.d/, which
--      the stock config includes with `Include "conf.d/*.cfg.lua"`), or add
--          Include "/path/to/thoonk-xmpp.cfg.lua"
--      at the END of prosody.cfg.lua, after your VirtualHost sections.
--   2. Give the component its address and secret, either by editing the two defaults
--      below or through the environment Prosody starts with:
--          THOONK_XMPP_JID     the component's address (default pubsub.example.org)
--          THOONK_XMPP_SECRET  the shared secret, the same as `secret` under [component]
--                              in thoonk_xmpp.toml; long and random, e.g. the output of
--                              `openssl rand -hex 24`
--   3. `prosodyctl check config`, restart Prosody, then start thoonk-xmpp.
--
-- The address is usually a sub-domain of one of your VirtualHosts. To let clients find
-- the service through disco, list it on that host:
--     disco_items = { { "pubsub.example.org", "Publish-Subscribe (thoonk-xmpp)" } }
--
-- Where Prosody accepts components is a global setting (above the first VirtualHost).
-- The default, port 5347 on loopback only, is what thoonk-xmpp expects (`host` and
-- `port` under [component] in thoonk_xmpp.toml):
--     component_ports = { 5347 }
--     component_interfaces = { "127.0.0.1" }
-- Keep that port off public interfaces: the handshake travels unencrypted.
-- Prosody drops a component that sends a stanza over component_stanza_size_limit
-- (global, default 512 KiB); raise it there if your items are large.
--
-- XEP-0356 (Privileged Entity) through mod_privilege from Debian's prosody-modules package
-- (`apt-get install prosody-modules`; Prosody finds it in /usr/lib/prosody/modules/, its
-- default plugin path — elsewhere add that folder to `plugin_paths`). It lets the service
-- read the rosters of the users of the hosts below and receive their presence and their
-- contacts' presence: the access models "presence" and "roster" and
-- send_last_published_item = on_sub_and_presence need it. Which hosts:
--          THOONK_XMPP_PRIVILEGED_HOSTS  VirtualHost names, separated by spaces or commas
--                              (default: the component's parent domain, e.g. example.org
--                              for pubsub.example.org); set it to "none" to grant nothing
--                              (the service then offers neither model)
-- For each of those hosts this file adds "privilege" to the host's modules (Prosody merges
-- it with the global modules_enabled) and sets its `privileged_entities`. If a host's own
-- section sets `modules_enabled` or `privileged_entities`, list "privilege" and this
-- component's entry there instead and leave that host out here (the last setting wins).
--
-- XEP-0033 multicast through mod_thoonk_multicast, shipped beside this file: thoonk-xmpp
-- (with `multicast = true` under [component]) then sends an event once for up to
-- `multicast_limit` local subscribers instead of once for each, and this service copies
-- it inside Prosody. Install the module first: copy mod_thoonk_multicast.lua into a
-- folder Prosody loads plugins from (Debian: /usr/lib/prosody/modules/, or a folder you
-- add to the global `plugin_paths`). Its address:
--          THOONK_XMPP_MULTICAST_JID  (default: multicast.<the component's parent domain>,
--                              e.g. multicast.example.org); "none" leaves it out
-- Only this component may send through it (thoonk_multicast_senders below); others get
-- `forbidden`. Keep thoonk_multicast_limit at or above `multicast_limit` (default 20).
--
-- The test suite loads this very file: tools/localservers.py sets these variables.

local thoonk_jid = os.getenv("THOONK_XMPP_JID") or "pubsub.example.org"

-- Put your secret in quotes in place of nil if you do not set THOONK_XMPP_SECRET.
local thoonk_secret = os.getenv("THOONK_XMPP_SECRET") or nil

if thoonk_secret == nil or thoonk_secret == "" then
	-- Refuse to load rather than serve a component address anyone could claim.
	error("thoonk-xmpp.cfg.lua: no component secret; set THOONK_XMPP_SECRET or edit this file", 0)
end

local multicast_jid = os.getenv("THOONK_XMPP_MULTICAST_JID")
	or ("multicast." .. (thoonk_jid:match("^[^.]+%.(.+)$") or thoonk_jid))

local privileged_hosts = os.getenv("THOONK_XMPP_PRIVILEGED_HOSTS")
	or thoonk_jid:match("^[^.]+%.(.+)$") or ""

for host in privileged_hosts:gmatch("[^%s,]+") do
	if host ~= "none" then
		VirtualHost(host)
			modules_enabled = { "privilege" }
			privileged_entities = {
				[thoonk_jid] = {
					roster = "get"; -- read rosters: the "presence" and "roster" access models
					presence = "roster"; -- presence of the users and of their contacts
				};
			}
	end
end

Component(thoonk_jid)
	component_secret = thoonk_secret
	-- Disco name shown while thoonk-xmpp is not connected.
	name = "Publish-Subscribe (thoonk-xmpp)"
	-- mod_privilege tells the component, when it connects, what the hosts above grant.
	modules_enabled = { "privilege" }

if multicast_jid ~= "none" then
	Component(multicast_jid)("thoonk_multicast")
		thoonk_multicast_senders = { thoonk_jid }
		thoonk_multicast_limit = 100
end
