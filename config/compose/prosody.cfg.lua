-- Prosody for the local stack of compose.yaml (mounted at /etc/prosody/prosody.cfg.lua
-- in the prosody/prosody image). For trying thoonk-xmpp out, NOT for a real server: no
-- TLS certificates, plain passwords allowed. The component block is the operator's file,
-- config/prosody/thoonk-xmpp.cfg.lua, mounted unchanged; it reads THOONK_XMPP_JID and
-- THOONK_XMPP_SECRET from the environment compose.yaml gives this container.

pidfile = "/var/run/prosody/prosody.pid"
log = { { levels = { min = "info" }, to = "console" } }

modules_enabled = {
	"roster";
	"saslauth";
	"disco";
	"ping";
	"register";
}
-- Accounts: `docker compose exec prosody prosodyctl register alice localhost PASSWORD`.
allow_registration = false

authentication = "internal_hashed"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true

-- thoonk-xmpp connects from its own container over the stack's network; compose.yaml
-- publishes only the client port (5222) to the host's loopback, never this one.
component_ports = { 5347 }
component_interfaces = { "*" }

VirtualHost "localhost"
	disco_items = { { "pubsub.localhost", "Publish-Subscribe (thoonk-xmpp)" } }

Include "/etc/prosody/conf.d/thoonk-xmpp.cfg.lua"
