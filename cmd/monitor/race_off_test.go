//go:build !race

package main

// raceEnabled: the tests run without -race, so the end-to-end binary is built without it.
const raceEnabled = false
