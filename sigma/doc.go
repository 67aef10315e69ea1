// Package sigma runs Sigma rules on rdr's streaming detectors: detection
// rules (logsource, detection with named selections, field modifiers and
// the condition expression) and correlation rules (event_count,
// value_count, temporal, temporal_ordered, with group-by, timespan,
// condition, aliases and generate), as the Sigma specification
// (github.com/SigmaHQ/sigma-specification) defines them, on event time.
//
// A [Mapping] says which logsources rdr's events are and which event field
// each Sigma field name reads, as pySigma's processing pipelines do;
// [DefaultMapping] covers rdr's own events (product rdr). Compile rule
// files with a mapping, then make the rules, once per engine:
//
//	coll, err := sigma.Compile(sigma.DefaultMapping(), sigma.NewFile("rules.yml", data))
//	…
//	eng, err := anomaly.NewEngine(coll.Rules(), anomaly.Config{})
//
// [LoadFiles] loads rdr rule files and Sigma rule files together, as the
// dashboard's -rules flag and the rdr-rules command do.
//
// # What a Sigma rule becomes
//
// A detection rule on its own is an rdr rule whose filter is its
// logsource's event types and its detection, with the [anomaly.EveryEvent]
// detector: every matching event is a detection, and the alerts
// deduplicate per rule and the mapping's group-by field (the user, by
// default). An event_count correlation is an [anomaly.Count] over the
// events of its rules, a value_count an [anomaly.Distinct], a temporal or
// temporal_ordered correlation an [anomaly.Temporal] whose steps are its
// rules (a correlation it refers to is a step made of that correlation's
// detector, grouped by the outer group-by, as the specification says).
// Several group-by fields group by their values together
// ([anomaly.CompositeField]); aliases read a different field for each rule
// ([anomaly.AliasField]). Rules a correlation refers to make no alerts of
// their own unless it says generate: true.
//
// level maps to severity (informational and low to low, then medium, high,
// critical; medium when absent), tags (ATT&CK: attack.t1110) reach the
// alerts as [anomaly.Alert.Tags], and the rule's name (else its title as
// a slug, else its ID) is the rdr rule name.
//
// Matching follows the specification: values match whole and
// case-insensitively, with * and ? wildcards (escaped with \); a list of
// values is an or, a map of fields an and, a list of maps an or; null
// matches a missing, empty or JSON null field. Modifiers: contains,
// startswith, endswith, all, cased, re (Go's RE2 syntax, with i, m, s),
// cidr, exists, gt, gte, lt, lte, fieldref. Conditions: and, or, not,
// parentheses, "1 of X", "any of X", "all of X" (X a name with wildcards, or
// them, which leaves out names starting with _). Keyword lists search the
// mapping's keyword fields.
//
// # What is refused
//
// Every rule is compiled or refused whole, never loaded as something
// else; each error ([*Error]) names the file, the line, the rule and the
// feature, and errors.Is(err, [ErrUnsupported]) tells features rdr does
// not run from mistakes. Refused: a logsource or a field the mapping does
// not cover; the modifiers base64, base64offset, utf16*, wide, windash,
// expand and the time-part modifiers; "N of" other than 1 and all;
// aggregations after | and timeframe (obsolete: use a correlation);
// correlation conditions lt, lte and eq (a stream cannot know "at most N"
// before the timespan ends); event_count and value_count over another
// correlation, and temporal over temporal; status: unsupported.
//
// Counting: an event_count's window slides in twelfths of its timespan
// (see [anomaly.Count]); value_count and the temporal types are exact.
package sigma
