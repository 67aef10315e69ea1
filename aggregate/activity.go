package aggregate

import (
	"hash/maphash"
	"iter"
	"slices"
	"strings"
	"time"
)

// UserActivity is what one user did within a window or a range: how many
// events, and the event times of the first and the last (in UTC). In JSON:
// {"count":12,"firstSeen":"2026-11-26T10:00:00.1Z","lastSeen":"2026-11-26T10:00:59.9Z"}.
type UserActivity struct {
	Count     uint64    `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Merge folds other into a: counts add, the first and last seen times widen.
func (a *UserActivity) Merge(other UserActivity) {
	if other.Count == 0 {
		return
	}
	if a.Count == 0 {
		*a = other
		return
	}
	a.Count += other.Count
	if other.FirstSeen.Before(a.FirstSeen) {
		a.FirstSeen = other.FirstSeen
	}
	if other.LastSeen.After(a.LastSeen) {
		a.LastSeen = other.LastSeen
	}
}

// Activity keeps per-user activity exactly: each user's event count and
// first and last event time. Events may come in any order: first and last
// are the earliest and latest event times, not arrival order. Merge is
// exact. Times are kept as Unix nanoseconds (years 1678 to 2262); an entry
// costs about 90 bytes plus the user ID.
//
// User IDs are cloned (strings.Clone) when first inserted. The zero value is
// empty and ready to use. An Activity is not safe for concurrent use; the
// goroutine that adds to it owns it.
type Activity struct {
	// A linear-probing hash table over users: each slot is 0 (empty) or
	// the top 32 bits of the user ID's hash and the user's index + 1. Short
	// IDs are also stored inline in userState, so a lookup usually touches
	// one slot and one userState (one cache line each). The hash is seeded
	// per Activity (hash/maphash), so crafted IDs cannot flood the table.
	seed  maphash.Seed
	slots []uint64
	mask  uint64
	users []userState
}

// inlineID is the longest user ID kept inline in userState; it makes a
// userState exactly 64 bytes, one cache line.
const inlineID = 19

type userState struct {
	key         string
	count       uint64
	first, last int64 // Unix nanoseconds
	slot        int32 // where key last entered a TopK fed by offerExact; -1 if never
	n           uint8 // len(key) if it is at most inlineID, else inlineID+1
	inline      [inlineID]byte
}

func (u *userState) is(id string) bool {
	if len(id) <= inlineID {
		return int(u.n) == len(id) && string(u.inline[:len(id)]) == id
	}
	return u.key == id
}

func (u *userState) activity() UserActivity {
	return UserActivity{
		Count:     u.count,
		FirstSeen: time.Unix(0, u.first).UTC(),
		LastSeen:  time.Unix(0, u.last).UTC(),
	}
}

// NewActivity returns an empty Activity. It is the same as new(Activity).
func NewActivity() *Activity { return new(Activity) }

// Add records one event by user at t.
func (a *Activity) Add(user string, t time.Time) { a.add(user, t.UnixNano(), 1) }

// index returns user's index in a.users.
func (a *Activity) index(user string) (int32, bool) {
	if a.slots == nil {
		return 0, false
	}
	h := maphash.String(a.seed, user)
	tag := h >> 32
	for pos := h & a.mask; ; pos = (pos + 1) & a.mask {
		x := a.slots[pos]
		if x == 0 {
			return 0, false
		}
		if x>>32 == tag {
			if i := int32(uint32(x)) - 1; a.users[i].is(user) {
				return i, true
			}
		}
	}
}

// has reports whether user has an entry.
func (a *Activity) has(user string) bool {
	_, ok := a.index(user)
	return ok
}

// add records n events by user at ts (Unix nanoseconds) and returns the
// user's index and whether the user is new.
func (a *Activity) add(user string, ts int64, n uint64) (int32, bool) {
	if i, ok := a.index(user); ok {
		u := &a.users[i]
		u.count += n
		u.first = min(u.first, ts)
		u.last = max(u.last, ts)
		return i, false
	}
	return a.insert(strings.Clone(user), userState{count: n, first: ts, last: ts}), true
}

// insert adds a user known to be absent; key must already be owned by a.
func (a *Activity) insert(key string, u userState) int32 {
	if (len(a.users)+1)*4 > len(a.slots)*3 {
		a.grow()
	}
	i := int32(len(a.users))
	u.key, u.slot = key, -1
	if len(key) <= inlineID {
		u.n = uint8(copy(u.inline[:], key))
	} else {
		u.n = inlineID + 1
	}
	a.users = append(a.users, u)
	a.place(maphash.String(a.seed, key), i)
	return i
}

// reserve makes room for n more users without growing, for a caller that
// knows how many it will insert.
func (a *Activity) reserve(n int) {
	a.users = slices.Grow(a.users, n)
	for (len(a.users)+n)*4 > len(a.slots)*3 {
		a.grow()
	}
}

// place puts user i, whose ID hashes to h, in the first free slot.
func (a *Activity) place(h uint64, i int32) {
	pos := h & a.mask
	for a.slots[pos] != 0 {
		pos = (pos + 1) & a.mask
	}
	a.slots[pos] = h>>32<<32 | uint64(uint32(i+1))
}

// grow doubles the table (the first time: 64 slots) and re-places every
// user.
func (a *Activity) grow() {
	if a.slots == nil {
		a.seed = maphash.MakeSeed()
	}
	size := max(64, 2*len(a.slots))
	a.slots = make([]uint64, size)
	a.mask = uint64(size - 1)
	for i := range a.users {
		a.place(maphash.String(a.seed, a.users[i].key), int32(i))
	}
}

// Get returns user's activity, and false if user has no events.
func (a *Activity) Get(user string) (UserActivity, bool) {
	i, ok := a.index(user)
	if !ok {
		return UserActivity{}, false
	}
	return a.users[i].activity(), true
}

// Len returns the number of distinct users.
func (a *Activity) Len() int { return len(a.users) }

// All yields every user and their activity, in the order the users first
// appeared.
func (a *Activity) All() iter.Seq2[string, UserActivity] {
	return func(yield func(string, UserActivity) bool) {
		for i := range a.users {
			if !yield(a.users[i].key, a.users[i].activity()) {
				return
			}
		}
	}
}

// Top returns the n most active users with their exact event counts,
// ordered by count descending, then user ID ascending. The cost is
// O(Len · log Len).
func (a *Activity) Top(n int) []Item[string] {
	items := make([]Item[string], len(a.users))
	for i := range a.users {
		items[i] = Item[string]{Key: a.users[i].key, Count: a.users[i].count}
	}
	sortItems(items, strings.Compare)
	return items[:max(0, min(n, len(items)))]
}

// Merge folds other into a exactly: counts add, first and last seen widen.
// Users new to a share other's (already cloned) IDs.
func (a *Activity) Merge(other *Activity) {
	if other == nil {
		return
	}
	if other == a {
		for i := range a.users {
			a.users[i].count *= 2
		}
		return
	}
	if len(a.users) == 0 { // a copy (Series.put): sized once, not doubled up to it
		a.reserve(len(other.users))
	}
	for i := range other.users {
		o := &other.users[i]
		if j, ok := a.index(o.key); ok {
			u := &a.users[j]
			u.count += o.count
			u.first = min(u.first, o.first)
			u.last = max(u.last, o.last)
			continue
		}
		a.insert(o.key, userState{count: o.count, first: o.first, last: o.last})
	}
}

// Reset empties a, keeping its memory for reuse.
func (a *Activity) Reset() {
	clear(a.slots)
	clear(a.users)
	a.users = a.users[:0]
}

// release drops a's memory.
func (a *Activity) release() { *a = Activity{} }
