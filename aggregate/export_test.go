package aggregate

// HashString exposes the distinct-count hash so tests can pin its values.
var HashString = hashString

// MergeAll exposes the n-way merge that Series.Metrics uses.
func MergeAll[K comparable](dst *TopK[K], srcs ...*TopK[K]) { dst.mergeAll(srcs) }
