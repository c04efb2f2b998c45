package changes

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Stream images come in three shapes: the Lambda event's
// (events.DynamoDBAttributeValue), the Streams API's (what Follow reads)
// and the table's (what the store decodes). A record goes Streams →
// Lambda event → table, as on Lambda.

// toTable converts a Lambda event's image to the table's attribute values.
func toTable(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := tableValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func tableValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := tableValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := toTable(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %v", v.DataType())
}

// toEvent converts a Streams API image to a Lambda event's.
func toEvent(img map[string]streams.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		ev, err := eventValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = ev
	}
	return out, nil
}

func eventValue(v streams.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *streams.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *streams.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *streams.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *streams.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *streams.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *streams.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *streams.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *streams.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *streams.AttributeValueMemberL:
		out := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			ev, err := eventValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			out[i] = ev
		}
		return events.NewListAttribute(out), nil
	case *streams.AttributeValueMemberM:
		m, err := toEvent(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unknown attribute type %T", v)
}
