package receiver

// AlertName is what an alert is called in a message: its check's name, or
// its kind when it has no check (an escalation), or else its ID. Email
// subjects and Alertmanager's alertname label use it.
func AlertName(a Alert) string {
	switch {
	case a.Check != "":
		return a.Check
	case a.Kind != "":
		return a.Kind
	}
	return a.ID
}

// Firing counts the alerts of n that fire.
func (n Notification) Firing() int {
	c := 0
	for _, a := range n.Alerts {
		if a.Status == StatusFiring {
			c++
		}
	}
	return c
}
