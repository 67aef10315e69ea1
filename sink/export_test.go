package sink

// Internals exported to the external tests.
var (
	FluxString = fluxString
	EncodeTag  = encodeTag
	DecodeTag  = decodeTag
)

// BuildFlux returns the Flux query History sends for q.
func BuildFlux(bucket string, q Query) string { return buildFlux(bucket, q).flux }
