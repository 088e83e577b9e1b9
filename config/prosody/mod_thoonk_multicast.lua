-- mod_thoonk_multicast: a XEP-0033 (Extended Stanza Addressing) multicast service for
-- Prosody 0.12, shipped with thoonk-xmpp.
--
-- A trusted sender (thoonk-xmpp's pubsub component) sends one <message/> listing its
-- recipients in <addresses xmlns='http://jabber.org/protocol/address'/>; this service
-- routes a copy to each of them through Prosody's usual routing (local sessions,
-- offline rules, s2s).  That spares Prosody parsing one stanza per recipient from the
-- component link, its costliest work when a component fans out.
--
-- Load it as a component (it is not a relay for anyone else: only the senders listed
-- may use it), e.g.
--
--     Component "multicast.example.org" "thoonk_multicast"
--         thoonk_multicast_senders = { "pubsub.example.org" }
--         thoonk_multicast_limit = 100   -- addresses to deliver, at most, per stanza
--
-- Prosody lists a sub-domain component in its parent host's disco#items, and this
-- module answers disco#info with the 'http://jabber.org/protocol/address' feature:
-- that is how a sender finds it.
--
-- What it does with a message (XEP-0033 sections 4 and 5):
--   * addresses of type to, cc and bcc without delivered='true' are delivered to, once
--     per distinct JID; replyto, replyroom, noreply and ofrom are carried, not
--     delivered to;
--   * each copy carries the addresses minus the bcc ones, every one marked
--     delivered='true'; when only bcc addresses were given, the copies carry none;
--   * errors go back to the sender and nothing is delivered: forbidden (a sender not
--     listed), bad-request (no <addresses/>, an address without a valid 'jid' or of an
--     unknown type, nothing to deliver to), not-acceptable (more addresses to deliver
--     to than thoonk_multicast_limit).
-- Presence and IQs other than disco are not multicast (XEP-0033 leaves presence to
-- services that track directed presence): Prosody answers IQs with service-unavailable
-- and drops presence, as for any address nothing handles.

local st = require "util.stanza";
local jid_prep = require "util.jid".prep;
local jid_bare = require "util.jid".bare;
local new_cache = require "util.cache".new;

local stanza_mt = st.stanza_mt;
local setmetatable, pairs, t_unpack = setmetatable, pairs, table.unpack or unpack;

local xmlns_address = "http://jabber.org/protocol/address";

if module:get_host_type() ~= "component" then
	module:log("error", "thoonk_multicast is a component module: load it with "
		.. "Component \"multicast.%s\" \"thoonk_multicast\", not in modules_enabled", module.host);
	return;
end

local senders = module:get_option_set("thoonk_multicast_senders", {});
local limit = module:get_option_number("thoonk_multicast_limit", 100);

if senders:empty() then
	module:log("warn", "thoonk_multicast_senders is empty: every sender will be refused");
end

module:depends("disco");
module:add_identity("service", "multicast", module:get_option_string("name", "Multicast (XEP-0033)"));
module:add_feature(xmlns_address);

-- A sender names the same recipients again and again: stringprep each JID once.
local prepped_jids = new_cache(module:get_option_number("thoonk_multicast_jid_cache", 10000));

local function prep(raw)
	local prepped = prepped_jids:get(raw);
	if prepped == nil then
		prepped = jid_prep(raw) or false;
		prepped_jids:set(raw, prepped);
	end
	return prepped or nil;
end

-- Address types this service delivers to; the others it knows are carried along.
local delivered_types = { to = true, cc = true, bcc = true };
local carried_types = { replyto = true, replyroom = true, noreply = true, ofrom = true };

-- The recipients of `addresses` and the <addresses/> the copies carry (nil when none
-- is left), or nil, the error condition and its text.  Reading stops at the first
-- address past the limit.
local function read_addresses(addresses)
	local recipients, seen = {}, {};
	local visible = st.stanza("addresses", { xmlns = xmlns_address });
	local any_visible = false;
	for address in addresses:childtags("address", xmlns_address) do
		local kind = address.attr.type;
		local delivered = address.attr.delivered == "true";
		if not (delivered_types[kind] or carried_types[kind]) then
			return nil, "bad-request", "unknown address type: " .. tostring(kind);
		end
		local to = address.attr.jid;
		local prepped = to and prep(to);
		if delivered_types[kind] and not delivered then
			if not prepped then
				return nil, "bad-request", "an address to deliver to needs a valid 'jid' (no 'uri')";
			end
			if not seen[prepped] then
				if #recipients == limit then
					return nil, "not-acceptable",
						"Too many receiver fields were specified (at most " .. limit .. ")";
				end
				seen[prepped] = true;
				recipients[#recipients + 1] = prepped;
			end
		end
		if kind ~= "bcc" then
			local shown = st.clone(address);
			if delivered_types[kind] then shown.attr.delivered = "true"; end
			visible:add_direct_child(shown);
			any_visible = true;
		end
	end
	if #recipients == 0 then
		return nil, "bad-request", "no address to deliver to";
	end
	return recipients, any_visible and visible or nil;
end

-- The children of the copies: those of `stanza` with `replacement` (or nothing) in
-- place of `addresses`.
local function children_of_copies(stanza, addresses, replacement)
	local children, tags = {}, {};
	for i = 1, #stanza do
		local child = stanza[i];
		if child == addresses then child = replacement; end
		if child ~= nil then
			children[#children + 1] = child;
			if child.name then tags[#tags + 1] = child; end
		end
	end
	return children, tags;
end

-- One copy addressed to `to`.  Only the top level is new: the copies share the
-- children, which routing reads and serialises but never changes (it sets top-level
-- attributes and, e.g. for offline storage, adds top-level children, both per copy).
-- This skips st.clone()'s walk of the whole tree for every recipient.
local function copy_to(stanza, children, tags, to)
	local attr = {};
	for k, v in pairs(stanza.attr) do attr[k] = v; end
	attr.to = to;
	local copy = { name = stanza.name, attr = attr, namespaces = stanza.namespaces,
		tags = { t_unpack(tags) }, t_unpack(children) };
	return setmetatable(copy, stanza_mt);
end

local function refuse(origin, stanza, kind, condition, text)
	origin.send(st.error_reply(stanza, kind, condition, text));
	return true;
end

module:hook("message/host", function (event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.attr.type == "error" then return true; end -- never answer an error
	local sender = jid_bare(stanza.attr.from);
	if not (sender and senders:contains(sender)) then
		module:log("debug", "refused a multicast from %s: not in thoonk_multicast_senders", sender);
		return refuse(origin, stanza, "auth", "forbidden", "Not allowed to use this multicast service");
	end
	local addresses = stanza:get_child("addresses", xmlns_address);
	if not addresses then
		return refuse(origin, stanza, "modify", "bad-request", "No <addresses/> element");
	end
	local recipients, visible, text = read_addresses(addresses);
	if not recipients then
		return refuse(origin, stanza, "modify", visible, text);
	end
	local children, tags = children_of_copies(stanza, addresses, visible);
	local send = module.send;
	for i = 1, #recipients do
		send(module, copy_to(stanza, children, tags, recipients[i]), origin);
	end
	return true;
end);
