-- Hand the answer to a roster query to the instance that asked (it waits with BLPOP).
-- KEYS: the query's reply list
-- ARGV: the answer (the iq as XML text), how long to keep it unclaimed in ms
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
