// Package cost is the API's cost model on AWS: what one call of each
// operation consumes (DynamoDB request units, Lambda time, API Gateway
// requests) and what a million calls cost at published prices. Its test
// measures the consumption against DynamoDB Local and keeps README.md's
// "Cost per million calls" table equal to what Table makes of it.
package cost

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Prices are on-demand list prices of one region, as published on a date.
type Prices struct {
	Region string
	Date   string // when they were read from AWS's pricing pages
	// DynamoDB on demand, Standard table class, per million request units.
	DynamoDBReadPerMillion, DynamoDBWritePerMillion float64
	// Lambda on arm64, first tier (the first 7.5 billion GB-s a month).
	LambdaPerGBSecond, LambdaPerMillionRequests float64
	// API Gateway REST APIs, first tier (the first 333 million a month).
	APIGatewayPerMillion float64
	// EventBridge custom events put on a bus, per million 64 KB chunks.
	EventBridgePerMillion float64
	// SQS standard queue requests, per million 64 KB chunks.
	SQSPerMillion float64
}

// USEast1 are the prices in US East (N. Virginia). DynamoDB's are those
// since AWS halved on-demand throughput prices in November 2024.
var USEast1 = Prices{
	Region:                   "us-east-1",
	Date:                     "2026-12-01",
	DynamoDBReadPerMillion:   0.125,
	DynamoDBWritePerMillion:  0.625,
	LambdaPerGBSecond:        0.0000133334,
	LambdaPerMillionRequests: 0.20,
	APIGatewayPerMillion:     3.50,
	EventBridgePerMillion:    1.00,
	SQSPerMillion:            0.40,
}

// DynamoDB is what one call's requests consumed.
type DynamoDB struct {
	Requests              map[string]int // by DynamoDB operation
	ReadUnits, WriteUnits float64
}

// Dollars is their price.
func (d DynamoDB) Dollars(p Prices) float64 {
	return d.ReadUnits*p.DynamoDBReadPerMillion/1e6 + d.WriteUnits*p.DynamoDBWritePerMillion/1e6
}

// Call is what one call of an operation consumed.
type Call struct {
	Operation routes.Operation
	Measured  string   // the call measured, in words
	Own       DynamoDB // the operation's own requests
	Metering  DynamoDB // usage metering's
	// WarmMS is the function's warm duration in milliseconds.
	WarmMS float64
	// ThroughAPIGateway is false for the authorizer, whose runs API Gateway
	// does not bill as requests of their own.
	ThroughAPIGateway bool
}

// BilledMS is the duration Lambda bills: rounded up to the millisecond.
func (c Call) BilledMS() float64 { return math.Ceil(c.WarmMS) }

// GBSeconds is the Lambda compute one call is billed for at memoryMB.
func (c Call) GBSeconds(memoryMB int) float64 {
	return c.BilledMS() / 1000 * float64(memoryMB) / 1024
}

// Costs are the dollars one call costs, by item.
type Costs struct {
	DynamoDB, Metering, LambdaDuration, LambdaRequest, APIGateway float64
}

// Total is their sum.
func (c Costs) Total() float64 {
	return c.DynamoDB + c.Metering + c.LambdaDuration + c.LambdaRequest + c.APIGateway
}

// Costs prices one call of c with its Lambda at memoryMB.
func (c Call) Costs(p Prices, memoryMB int) Costs {
	out := Costs{
		DynamoDB:       c.Own.Dollars(p),
		Metering:       c.Metering.Dollars(p),
		LambdaDuration: c.GBSeconds(memoryMB) * p.LambdaPerGBSecond,
		LambdaRequest:  p.LambdaPerMillionRequests / 1e6,
	}
	if c.ThroughAPIGateway {
		out.APIGateway = p.APIGatewayPerMillion / 1e6
	}
	return out
}

// Table is the README's pair of tables for calls: what a million calls of
// each consume, then what they cost at p with the Lambdas at memoryMB.
func Table(calls []Call, p Prices, memoryMB int) string {
	var b strings.Builder
	b.WriteString("| operation | call measured | DynamoDB requests per call | RRU | WRU | metering requests per call | metering RRU | metering WRU | warm ms (billed) | Lambda GB-s | Lambda requests | API Gateway requests |\n")
	b.WriteString("|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range calls {
		apiGateway := "0"
		if c.ThroughAPIGateway {
			apiGateway = "1 M"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | 1 M | %s |\n",
			c.Operation, c.Measured, requests(c.Own.Requests), millions(c.Own.ReadUnits), millions(c.Own.WriteUnits),
			requests(c.Metering.Requests), millions(c.Metering.ReadUnits), millions(c.Metering.WriteUnits),
			number(c.WarmMS), number(c.BilledMS()), number(math.Round(c.GBSeconds(memoryMB)*1e6)), apiGateway)
	}
	b.WriteString("\n| operation | DynamoDB | metering | Lambda duration | Lambda requests | API Gateway | total | metering's share |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range calls {
		k := c.Costs(p, memoryMB)
		share := "–"
		if k.Metering > 0 {
			share = fmt.Sprintf("%.0f %%", 100*k.Metering/k.Total())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | **%s** | %s |\n", c.Operation,
			perMillion(k.DynamoDB), perMillion(k.Metering), perMillion(k.LambdaDuration), perMillion(k.LambdaRequest),
			perMillion(k.APIGateway), perMillion(k.Total()), share)
	}
	return b.String()
}

// requests reads like "1 GetItem + 2 Query", in the operations' name order.
func requests(byOperation map[string]int) string {
	if len(byOperation) == 0 {
		return "none"
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(byOperation)) {
		parts = append(parts, fmt.Sprintf("%d %s", byOperation[op], op))
	}
	return strings.Join(parts, " + ")
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// millions is a million times v units per call, in millions.
func millions(v float64) string {
	if v == 0 {
		return "0"
	}
	return number(v) + " M"
}

// perMillion is the dollars of a million calls at dollarsPerCall.
func perMillion(dollarsPerCall float64) string {
	return fmt.Sprintf("$%.4f", dollarsPerCall*1e6)
}
