package config

// docs/config.md, the configuration reference, is generated from this
// package's types (and those they hold) by TestConfigReference.
//go:generate go test -run TestConfigReference -update .
