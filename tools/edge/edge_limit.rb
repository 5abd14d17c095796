# edge_limit.rb: the h2o (mruby) gate in front of every request h2o proxies
# to cetd. Why: h2o 2.2.5 opens one upstream connection per proxied stream,
# and a stream that the client resets at once (HTTP/2 rapid reset,
# CVE-2023-44487) frees its concurrency slot before h2o notices, so
# http2-max-concurrent-requests-per-connection bounds nothing: 8 connections
# made 156,000 upstream connections to cetd in 10 s (docs/deployment.md).
# This handler runs for each stream before the proxy does, so a request over
# its budget is answered 429 here and costs cetd nothing.
#
# Token buckets, per h2o thread (mruby state is per thread; a connection
# stays on one thread):
#   per client connection (REMOTE_ADDR:REMOTE_PORT)  CONN_RATE/s, burst CONN_BURST
#   per client address                               ADDR_RATE/s, burst ADDR_BURST
# A browser page needs a few requests; a candidate's whole session a few
# hundred. ADDR_RATE is high on purpose: a campus behind one NAT address is
# many real users. A rate of 0 turns that bucket off (load benchmarks only).
# edge.sh --conn-rate/--addr-rate rewrite the two rates (bursts are twice the
# rate) into its state directory's copy of this file.
CONN_RATE = 50.0
CONN_BURST = 100.0
ADDR_RATE = 1000.0
ADDR_BURST = 2000.0
BUCKETS_MAX = 100000   # keys kept before idle ones are dropped
IDLE_S = 60.0

$cet_buckets = {}

def cet_take(key, rate, burst, now)
  b = $cet_buckets[key]
  unless b
    b = [burst, now]
    $cet_buckets[key] = b
  end
  tokens = b[0] + (now - b[1]) * rate
  tokens = burst if tokens > burst
  b[1] = now
  if tokens < 1.0
    b[0] = tokens
    return false
  end
  b[0] = tokens - 1.0
  true
end

CET_LIMITED_BODY = '{"error":{"code":"rate_limited","message":"too many requests from this connection or address, slow down"}}'

Proc.new do |env|
  now = Time.now.to_f
  if $cet_buckets.size > BUCKETS_MAX
    $cet_buckets.delete_if { |_, v| now - v[1] > IDLE_S }
  end
  addr = env["REMOTE_ADDR"].to_s
  if (CONN_RATE <= 0 ||
      cet_take("c" + addr + ":" + env["REMOTE_PORT"].to_s, CONN_RATE, CONN_BURST, now)) &&
     (ADDR_RATE <= 0 || cet_take("a" + addr, ADDR_RATE, ADDR_BURST, now))
    [399, {}, []]   # within budget: on to the proxy
  else
    [429, {"content-type" => "application/json; charset=utf-8", "retry-after" => "1",
           "cache-control" => "no-store"}, [CET_LIMITED_BODY]]
  end
end
