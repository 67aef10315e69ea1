package main

import "github.com/rdr-go/rdr/anomaly"

// loadRules loads rule files: rdr rule files, and (with a field mapping)
// Sigma rule files. Every command loads rules through it.
func loadRules(files []string, mapping string) ([]anomaly.Rule, error) {
	_ = mapping // Sigma support lands with the sigma package
	return anomaly.LoadRules(files...)
}
