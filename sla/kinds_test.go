package sla

// The kinds register their behaviour (componentType, timeout status,
// within-SLA rule) with package check when package probes starts, as in
// the monitor binary.
import _ "github.com/monitor-dev/monitor/probes"
