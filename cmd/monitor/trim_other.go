//go:build !linux

package main

import "errors"

// pageOutBinary is Linux-only (MADV_PAGEOUT).
func pageOutBinary() (int, error) { return 0, errors.New("not supported on this OS") }
