-- Test-only Prosody module (thoonk-xmpp's tests): send outgoing s2s connections for
-- the domains listed in a file straight to a loopback port, instead of looking up
-- _xmpp-server._tcp SRV records and falling back to <domain>:5269.
--
-- Prosody 0.12 has no option for this (its legacy resolver reads /etc/resolv.conf
-- and asks port 53; lua-unbound is not installed), and the tests may neither touch
-- the machine's DNS nor use port 5269.  The routes live in a file the test session
-- writes and empties again (tools/localservers.py, ProsodyServer.route_s2s), so one
-- Prosody started early can later be linked to a second one started on demand.
--
--   s2s_test_routes_file = "/tmp/.../s2s-routes"   -- lines: "<domain> <port>"
--
-- The file is read at every new outgoing connection.  Domains not listed resolve
-- as usual.

module:set_global();

local basic = require "net.resolvers.basic";
local service = require "net.resolvers.service";

local routes_file = module:get_option_path("s2s_test_routes_file", nil, "data");

local function route_of(domain)
	if not routes_file then return nil; end
	local file = io.open(routes_file);
	if not file then return nil; end
	local port;
	for line in file:lines() do
		local listed, listed_port = line:match("^%s*(%S+)%s+(%d+)%s*$");
		if listed == domain then
			port = tonumber(listed_port);
			break;
		end
	end
	file:close();
	return port;
end

local original_new = service.new;

-- mod_s2s calls service.new(to_host, "xmpp-server", "tcp", extra) for each new
-- outgoing connection (and "xmpps-server" first when it has a TLS context).
service.new = function (hostname, service_name, conn_type, extra)
	local port = route_of(hostname);
	if port == nil then
		return original_new(hostname, service_name, conn_type, extra);
	end
	if service_name ~= "xmpp-server" then
		-- No direct-TLS s2s in the tests: an empty target list makes the chain go on.
		return require "net.resolvers.manual".new({}, conn_type, extra);
	end
	module:log("debug", "s2s to %s goes to 127.0.0.1:%d (test route)", hostname, port);
	return basic.new("127.0.0.1", port, conn_type, extra);
end

function module.unload()
	service.new = original_new;
end
