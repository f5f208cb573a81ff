-- ARGV: key, holder. Deletes the key only when the holder owns it.
if redis.call('GET', ARGV[1]) == ARGV[2] then redis.call('DEL', ARGV[1]) end
return 1
