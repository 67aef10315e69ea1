package main

import (
	"github.com/rdr-go/rdr/anomaly"
	"github.com/rdr-go/rdr/sigma"
)

// loadRules loads rule files: rdr rule files and Sigma rule files (told
// apart by their content), Sigma's through the field mapping file mapping
// ("": sigma.DefaultMapping, rdr's own events). Every command loads rules
// through it.
func loadRules(files []string, mapping string) ([]anomaly.Rule, error) {
	m := sigma.DefaultMapping()
	if mapping != "" {
		var err error
		if m, err = sigma.LoadMapping(mapping); err != nil {
			return nil, err
		}
	}
	rules, _, err := sigma.LoadFiles(m, files...)
	if err != nil {
		return nil, err
	}
	return rules()
}
