package main

import (
	"net/http"
	"net/http/httptest"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// startStandInSQS serves the SQS calls deliver-webhooks makes
// (ChangeMessageVisibility to delay a retry, SendMessageBatch for a
// catch-up) as SQS answers them when they succeed, and refuses any other.
// The function reaches it through the deployment's queue URL and the
// standard AWS_ENDPOINT_URL_SQS (its env).
func startStandInSQS() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSQS.ChangeMessageVisibility", "AmazonSQS.SendMessageBatch":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_, _ = w.Write([]byte(`{}`))
		default:
			http.Error(w, `{"__type":"com.amazonaws.sqs#InvalidAction"}`, http.StatusBadRequest)
		}
	}))
}

// sqsEnv is deliver-webhooks' environment for the stand-in at url.
func sqsEnv(url string) []string {
	return []string{
		routes.EnvWebhookQueueURL + "=" + url + "/" + accountID + "/fleetgroups-WebhookQueue",
		"AWS_ENDPOINT_URL_SQS=" + url,
	}
}
