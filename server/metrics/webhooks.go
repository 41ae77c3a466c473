package metrics

import "github.com/prometheus/client_golang/prometheus"

// webhookAttempts is created on first use, so servers without webhooks
// export no webhook series.
func (m *Metrics) webhookAttempts() *prometheus.CounterVec {
	m.webhookOnce.Do(func() {
		m.webhookAttemptsVec = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flagpole_webhook_delivery_attempts_total",
			Help: "Webhook delivery attempts by result: delivered, retry (failed, tried again later) or failed (given up).",
		}, []string{"result"})
		m.reg.MustRegister(m.webhookAttemptsVec)
	})
	return m.webhookAttemptsVec
}

// DeliveryAttempt counts one webhook delivery attempt by its result.
func (m *Metrics) DeliveryAttempt(result string) {
	if m == nil {
		return
	}
	m.webhookAttempts().WithLabelValues(result).Inc()
}

// WatchDeliveries exports flagpole_webhook_deliveries{state} for pending
// and failed deliveries, read with count at every scrape; an alert on
// failed > 0 tells that a receiver missed events.
func (m *Metrics) WatchDeliveries(count func(state string) (int, error)) {
	if m == nil {
		return
	}
	m.webhookAttempts()
	for _, state := range []string{"pending", "failed"} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "flagpole_webhook_deliveries",
			Help:        "Webhook deliveries in the outbox by state: pending (not yet delivered) or failed (every attempt failed).",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			n, err := count(state)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
}
