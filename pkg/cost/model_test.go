package cost

import (
	"math"
	"testing"
)

// TestCallCosts prices calls by hand: Lambda bills whole milliseconds, API
// Gateway bills every call but the authorizer's runs.
func TestCallCosts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		call Call
		want Costs // per million calls
	}{
		{"get-group-like", Call{
			Own: DynamoDB{ReadUnits: 1}, Metering: DynamoDB{WriteUnits: 2}, WarmMS: 6.2, ThroughAPIGateway: true,
		}, Costs{DynamoDB: 0.125, Metering: 1.25, LambdaDuration: 7 * 0.25 * 1000 * 0.0000133334, LambdaRequest: 0.20, APIGateway: 3.50}},
		{"whole-millisecond-not-rounded-up", Call{WarmMS: 6, ThroughAPIGateway: true},
			Costs{LambdaDuration: 6 * 0.25 * 1000 * 0.0000133334, LambdaRequest: 0.20, APIGateway: 3.50}},
		{"authorizer-no-api-gateway", Call{Own: DynamoDB{ReadUnits: 0.5}, WarmMS: 0.2},
			Costs{DynamoDB: 0.0625, LambdaDuration: 0.25 * 1000 * 0.0000133334, LambdaRequest: 0.20}},
		{"writes", Call{Own: DynamoDB{ReadUnits: 2, WriteUnits: 19}, ThroughAPIGateway: true},
			Costs{DynamoDB: 2*0.125 + 19*0.625, LambdaRequest: 0.20, APIGateway: 3.50}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := c.call.Costs(USEast1, 256)
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"DynamoDB", got.DynamoDB, c.want.DynamoDB},
				{"metering", got.Metering, c.want.Metering},
				{"Lambda duration", got.LambdaDuration, c.want.LambdaDuration},
				{"Lambda requests", got.LambdaRequest, c.want.LambdaRequest},
				{"API Gateway", got.APIGateway, c.want.APIGateway},
				{"total", got.Total(), c.want.Total()},
			} {
				if math.Abs(f.got*1e6-f.want) > 1e-9 {
					t.Errorf("%s: $%v per million, want $%v", f.name, f.got*1e6, f.want)
				}
			}
		})
	}
}
