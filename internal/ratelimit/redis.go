package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// redisEpoch is the second the scripts count Redis's clock from, so that
// µs offsets keep a float resolution of nanoseconds (2026-01-01 UTC).
const redisEpoch = 1767225600

// rateScript is gcra (limit.go) over every key of a batch at once, on
// Redis's clock. KEYS are the asks' keys; ARGV[1] is the op ("0" take,
// "1" adjust), then per ask its emission interval t and tolerance tau (µs)
// and its units n. Under a take either every key is admitted and written
// or none is. A key's TAT is stored with full float precision and expires
// when the key's allowance is full again, since an absent key is full.
// It returns per ask: fits (0/1), retry, TAT−now before and after (ns,
// rounded up), then the clock (µs since redisEpoch).
var rateScript = goredis.NewScript(`
local tm = redis.call('TIME')
local now = (tonumber(tm[1]) - ` + strconv.Itoa(redisEpoch) + `) * 1e6 + tonumber(tm[2])
local take = ARGV[1] == '0'
local cap = 9e18
local tent, out, ok = {}, {}, true
for i = 1, #KEYS do
  local k = KEYS[i]
  local j = 2 + (i - 1) * 3
  local t, tau, n = tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])
  local tat = tent[k]
  if tat == nil then tat = tonumber(redis.call('GET', k)) or now end
  if tat < now then tat = now end
  local nxt = tat + n * t
  local fits, retry = 1, 0
  if take then
    local at = nxt - tau
    if at > tat then at = tat end
    if at - now > 0.05 then
      fits, retry, nxt, ok = 0, at - now, tat, false
    end
  elseif nxt < now then
    nxt = now
  end
  tent[k] = nxt
  out[#out + 1] = fits
  out[#out + 1] = math.min(math.ceil(retry * 1000), cap)
  out[#out + 1] = math.min(math.ceil((tat - now) * 1000), cap)
  out[#out + 1] = math.min(math.ceil((nxt - now) * 1000), cap)
end
if ok then
  for k, tat in pairs(tent) do
    local ms = math.min(math.ceil((tat - now) / 1000), 1e15)
    if ms > 0 then
      redis.call('SET', k, string.format('%.17g', tat), 'PX', ms)
    else
      redis.call('DEL', k)
    end
  end
end
out[#out + 1] = math.floor(now)
return out
`)

// spendLua is shared by the spend scripts: add charges a counter and
// sets its expiry; release ends a hold unless its bucket has expired (the
// hold has lapsed).
const spendLua = `
local function add(k, n, at)
  if n ~= '0' then
    redis.call('INCRBY', k, n)
    redis.call('PEXPIREAT', k, at)
  end
end
local function release(k, n)
  if n ~= '0' and redis.call('EXISTS', k) == 1 then
    if redis.call('DECRBY', k, n) <= 0 then
      redis.call('DEL', k)
    end
  end
end
`

// reserveScript judges a spend key and holds an estimate. KEYS: the day
// and month counters, the current and previous hold buckets. ARGV:
// estimate, day soft, day hard, month soft, month hard, day and month
// counter expiry, hold expiry (unix ms), carries into day and month, then
// releases carried for the current and previous buckets. It returns state
// (0 ok, 1 soft, 2 hard), day and month spend (carries included, this call
// not) and what was held before this call.
var reserveScript = goredis.NewScript(spendLua + `
local function over(v, lim) return lim > 0 and v > lim end
add(KEYS[1], ARGV[9], ARGV[6])
add(KEYS[2], ARGV[10], ARGV[7])
release(KEYS[3], ARGV[11])
release(KEYS[4], ARGV[12])
local d = tonumber(redis.call('GET', KEYS[1]) or '0')
local m = tonumber(redis.call('GET', KEYS[2]) or '0')
local h = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(redis.call('GET', KEYS[4]) or '0')
local est = tonumber(ARGV[1])
local need = h + math.max(est, 1)
local state = 0
if over(d + need, tonumber(ARGV[3])) or over(m + need, tonumber(ARGV[5])) then
  state = 2
elseif over(d + need, tonumber(ARGV[2])) or over(m + need, tonumber(ARGV[4])) then
  state = 1
end
if state < 2 and est > 0 then
  redis.call('INCRBY', KEYS[3], ARGV[1])
  redis.call('PEXPIREAT', KEYS[3], ARGV[8])
end
return {state, d, m, h}
`)

// settleScript releases a hold and charges a cost. KEYS: the day and month
// counters, the reservation's hold bucket, the current and previous hold
// buckets. ARGV: held, day and month additions (cost plus carries), day
// and month counter expiry (unix ms), releases carried for the current and
// previous buckets. It returns the day and month spend after.
var settleScript = goredis.NewScript(spendLua + `
release(KEYS[3], ARGV[1])
release(KEYS[4], ARGV[6])
release(KEYS[5], ARGV[7])
add(KEYS[1], ARGV[2], ARGV[4])
add(KEYS[2], ARGV[3], ARGV[5])
return {tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[2]) or '0')}
`)

// errReply marks a script reply of the wrong shape.
var errReply = errors.New("ratelimit: unexpected reply from Redis")

// counterGrace keeps a spend counter an hour past its period, so that a
// node whose clock lags still finds it.
const counterGrace = time.Hour

// redisBackend keeps limits and budgets in Redis. Safe for concurrent use.
type redisBackend struct {
	rdb     goredis.UniversalClient
	prefix  string
	holdTTL time.Duration
}

func (r *redisBackend) rateKey(a *Ask) string {
	if a.Kind == Tokens {
		return r.prefix + "rl:t:" + a.Key
	}
	return r.prefix + "rl:r:" + a.Key
}

// apply is memory.apply in Redis, one script run for the whole batch.
func (r *redisBackend) apply(ctx context.Context, asks []Ask, ps []params, rs []result, o op) (int64, error) {
	keys := make([]string, len(asks))
	args := make([]any, 0, 1+3*len(asks))
	args = append(args, strconv.Itoa(int(o)))
	for i := range asks {
		keys[i] = r.rateKey(&asks[i])
		args = append(args,
			strconv.FormatFloat(ps[i].t, 'g', -1, 64),
			strconv.FormatFloat(ps[i].tau, 'g', -1, 64),
			strconv.FormatInt(asks[i].n(o), 10))
	}
	v, err := rateScript.Run(ctx, r.rdb, keys, args...).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 4*len(asks)+1 {
		return 0, errReply
	}
	for i := range rs {
		w := v[4*i:]
		rs[i] = result{allowed: w[0] == 1, retry: float64(w[1]) / 1e3, before: float64(w[2]) / 1e3, after: float64(w[3]) / 1e3}
	}
	return v[len(v)-1], nil
}

func (r *redisBackend) spendKeys(key string, pd *periods) (day, month string) {
	base := r.prefix + "spend:" + key
	return base + ":d:" + pd.at.Format("2006-01-02"), base + ":m:" + pd.at.Format("2006-01")
}

func (r *redisBackend) holdKey(key string, bucket int64) string {
	return r.prefix + "spend:" + key + ":h:" + strconv.FormatInt(bucket, 10)
}

func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// reserve is memory.reserve in Redis, adding carry (charged in process
// during an outage) to the counters first.
func (r *redisBackend) reserve(ctx context.Context, key string, b Budget, est int64, pd *periods, c *carry) (Spend, error) {
	day, month := r.spendKeys(key, pd)
	holdExp := time.Unix(0, (pd.bucket+3)*int64(r.holdTTL))
	v, err := reserveScript.Run(ctx, r.rdb,
		[]string{day, month, r.holdKey(key, pd.bucket), r.holdKey(key, pd.bucket-1)},
		itoa(est), itoa(b.Day.Soft), itoa(b.Day.Hard), itoa(b.Month.Soft), itoa(b.Month.Hard),
		unixMs(pd.dayEnd().Add(counterGrace)), unixMs(pd.monthEnd().Add(counterGrace)), unixMs(holdExp),
		itoa(c.day), itoa(c.month), itoa(c.rel[0]), itoa(c.rel[1]),
	).Int64Slice()
	if err != nil {
		return Spend{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 4 || v[0] < 0 || v[0] > 2 {
		return Spend{}, errReply
	}
	sp := Spend{
		State: SpendState(v[0]),
		Day:   SpendStatus{Spent: v[1], Cap: b.Day},
		Month: SpendStatus{Spent: v[2], Cap: b.Month},
		Held:  v[3],
	}
	sp.Reservation = Reservation{Key: key, bucket: pd.bucket, redis: true}
	if sp.State != HardLimit && est > 0 {
		sp.Reservation.Amount = est
		sp.Held += est
	}
	return sp, nil
}

// settle releases held (in res's bucket) and adds cost plus carries.
func (r *redisBackend) settle(ctx context.Context, res *Reservation, held, cost int64, pd *periods, c *carry) (daySpent, monthSpent int64, err error) {
	day, month := r.spendKeys(res.Key, pd)
	v, err := settleScript.Run(ctx, r.rdb,
		[]string{day, month, r.holdKey(res.Key, res.bucket), r.holdKey(res.Key, pd.bucket), r.holdKey(res.Key, pd.bucket-1)},
		itoa(held), itoa(cost+c.day), itoa(cost+c.month),
		unixMs(pd.dayEnd().Add(counterGrace)), unixMs(pd.monthEnd().Add(counterGrace)),
		itoa(c.rel[0]), itoa(c.rel[1]),
	).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 2 {
		return 0, 0, errReply
	}
	return v[0], v[1], nil
}
