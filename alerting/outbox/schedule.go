package outbox

import (
	"time"
)

// DefaultRetry is the contract's schedule: the waits after the first try,
// one per retry, then the delivery is dead-lettered.
var DefaultRetry = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}

// Defaults of Options.
const (
	DefaultWorkers        = 4
	DefaultQueueSize      = 256
	DefaultAttemptTimeout = 10 * time.Second
	DefaultMaxRetryAfter  = 10 * time.Minute
	DefaultJitter         = 0.1
	DefaultBatchSize      = 256
	DefaultPollInterval   = 10 * time.Second
)

// retryWait is the wait before the retry that follows a failed attempt:
// backoff jittered by ±jitter (r is uniform in [0, 1)), and never less than
// the receiver's Retry-After, which is capped at maxRetryAfter. The jitter
// spreads the retries of a storm; Retry-After is the receiver's own
// minimum, so it is not jittered downwards.
func retryWait(backoff, retryAfter time.Duration, jitter, r float64, maxRetryAfter time.Duration) time.Duration {
	w := backoff
	if jitter > 0 {
		w = time.Duration(float64(backoff) * (1 + jitter*(2*r-1)))
	}
	if retryAfter > maxRetryAfter {
		retryAfter = maxRetryAfter
	}
	return max(w, retryAfter, 0)
}

// nextAttempt says what follows a failed attempt, the attempts-th one (1
// for the first try), under the retry schedule: the wait before the next
// try, or false when the schedule is exhausted (dead-letter).
func nextAttempt(retry []time.Duration, attempts int) (backoff time.Duration, ok bool) {
	if attempts < 1 || attempts > len(retry) {
		return 0, false
	}
	return retry[attempts-1], true
}
