//go:build race

package main

// raceEnabled: the tests run under -race, so the end-to-end binary is built with it too.
const raceEnabled = true
