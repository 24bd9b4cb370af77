using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Ori.Sockets.Tests.Generated;

namespace Ori.Sockets.Tests.Unit;

/// <summary>
/// The generated JSON Schema and the generated validator agree: the same payloads are fed to both
/// (a draft 2020-12 evaluator with format validation on, and the message's own serializer).
/// </summary>
public sealed class JsonSchemaTests
{
    private const string Valid = """
        {"sku":"SKU-1","quantity":2,"priority":"veryHigh","shipTo":{"city":"Oslo","street":null},
         "lines":[{"item":"bolt","weight":1.5}],"channel":"app","tags":{"a":1},"currency":"NOK","discount":0.5,
         "clientId":"0f8fad5b-d9cb-469f-a165-70867728950e","at":"2026-11-22T10:00:00+01:00","window":"01:30:00","note_text":"hi"}
        """;

    /// <summary>Each mutation replaces (or with null value removes) one member of the valid payload.</summary>
    public static TheoryData<string, string?> Mutations => new()
    {
        { "sku", "\"AB\"" }, { "sku", "\"A\"" }, { "sku", "\"   \"" }, { "sku", new string('x', 33).Insert(0, "\"") + "\"" }, { "sku", null }, { "sku", "null" }, { "sku", "5" },
        { "quantity", "1" }, { "quantity", "100" }, { "quantity", "0" }, { "quantity", "101" }, { "quantity", "2.5" }, { "quantity", "\"2\"" }, { "quantity", null }, { "quantity", "null" },
        { "priority", "\"low\"" }, { "priority", "\"Low\"" }, { "priority", "\"urgent\"" }, { "priority", "1" }, { "priority", null },
        { "shipTo", "null" }, { "shipTo", null }, { "shipTo", "{\"city\":\"A\"}" }, { "shipTo", "{\"street\":\"A\"}" }, { "shipTo", "{\"city\":\"\"}" }, { "shipTo", "[]" },
        { "lines", "[]" }, { "lines", "[{\"item\":\"a\",\"weight\":1},{\"item\":\"b\",\"weight\":1},{\"item\":\"c\",\"weight\":1}]" },
        { "lines", "[{\"item\":\"a\",\"weight\":1},{\"item\":\"b\",\"weight\":1},{\"item\":\"c\",\"weight\":1},{\"item\":\"d\",\"weight\":1}]" },
        { "lines", "[{\"item\":\"0123456789A\",\"weight\":1}]" }, { "lines", "[{\"weight\":1}]" }, { "lines", "[{\"item\":\"a\"}]" }, { "lines", "null" }, { "lines", null },
        { "channel", "\"web\"" }, { "channel", "\"fax\"" }, { "channel", null }, { "channel", "null" },
        { "tags", "{}" }, { "tags", "{\"a\":\"x\"}" }, { "tags", "null" }, { "tags", "[1]" },
        { "currency", "\"EUR\"" }, { "currency", "\"eur\"" }, { "currency", "\"EURO\"" }, { "currency", "null" },
        { "discount", "-1.25" }, { "discount", "\"1\"" }, { "discount", "null" },
        { "clientId", "\"not-a-guid\"" }, { "clientId", "\"0f8fad5bd9cb469fa16570867728950e\"" }, { "clientId", "null" },
        { "at", "\"2026-11-22T10:00:00Z\"" }, { "at", "\"yesterday\"" },
        { "window", "\"1.02:03:04\"" }, { "window", "\"-00:00:01.5\"" }, { "window", "\"90 minutes\"" },
        { "note_text", "\"\"" }, { "note_text", "7" },
        { "unknown", "{\"anything\":[1,2]}" },
    };

    [Fact]
    public void Every_keyword_of_every_schema_appears_once_and_a_range_gives_the_tighter_bounds()
    {
        foreach (var text in new[] { PlaceOrder.JsonSchema, OrderShipped.JsonSchema, StockReport.JsonSchema, Catalog.Search.JsonSchema })
        {
            // A duplicate member (an int's own "minimum" beside a [Range]'s) would be refused here.
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowDuplicateProperties = false });
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }

        using var search = JsonDocument.Parse(Catalog.Search.JsonSchema);
        var limit = search.RootElement.GetProperty("properties").GetProperty("limit");
        Assert.Equal(1, limit.GetProperty("minimum").GetInt32());
        Assert.Equal(50, limit.GetProperty("maximum").GetInt32());
        Assert.True(SchemaAccepts(JsonSchema.FromText(Catalog.Search.JsonSchema), """{"text":"bolt","limit":50}"""));
        Assert.False(SchemaAccepts(JsonSchema.FromText(Catalog.Search.JsonSchema), """{"text":"bolt","limit":51}"""));
    }

    [Fact]
    public void The_schema_is_a_draft_2020_12_schema_and_accepts_the_valid_payload()
    {
        var schema = JsonSchema.FromText(PlaceOrder.JsonSchema);
        using var document = JsonDocument.Parse(PlaceOrder.JsonSchema);
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", document.RootElement.GetProperty("$schema").GetString());
        Assert.Equal(["lines", "priority", "quantity", "sku"], document.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
        Assert.True(SchemaAccepts(schema, Valid));
        Assert.True(ValidatorAccepts(Valid));
    }

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Schema_and_validator_agree(string member, string? value)
    {
        var payload = Mutate(member, value);
        var schema = JsonSchema.FromText(PlaceOrder.JsonSchema);
        Assert.Equal(ValidatorAccepts(payload), SchemaAccepts(schema, payload));
    }

    [Fact]
    public void The_mutations_cover_both_verdicts()
    {
        var rows = Mutations.Select(row => row.Data).ToList();
        var accepted = rows.Count(row => ValidatorAccepts(Mutate(row.Item1, row.Item2)));

        // Neither side can agree by always saying yes or always saying no.
        Assert.InRange(accepted, 15, rows.Count - 20);
    }

    [Fact]
    public void Every_generated_message_has_a_schema_that_parses()
    {
        foreach (var text in new[] { PlaceOrder.JsonSchema, OrderShipped.JsonSchema })
        {
            var schema = JsonSchema.FromText(text);
            Assert.NotNull(schema);
        }

        Assert.True(SchemaAccepts(JsonSchema.FromText(OrderShipped.JsonSchema), """{"orderId":"o-1","boxes":10}"""));
        Assert.False(SchemaAccepts(JsonSchema.FromText(OrderShipped.JsonSchema), """{"orderId":"o-1","boxes":11}"""));
    }

    private static string Mutate(string member, string? value)
    {
        var node = JsonNode.Parse(Valid)!.AsObject();
        if (value is null)
        {
            node.Remove(member);
        }
        else
        {
            node[member] = JsonNode.Parse(value);
        }

        return node.ToJsonString();
    }

    private static bool SchemaAccepts(JsonSchema schema, string payload)
    {
        using var document = JsonDocument.Parse(payload);
        return schema.Evaluate(document.RootElement, new EvaluationOptions { RequireFormatValidation = true }).IsValid;
    }

    private static bool ValidatorAccepts(string payload)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(payload));
        reader.Read();
        var validation = new SocketValidationContext("$.data");
        var value = PlaceOrder.Serializer.Read(ref reader, validation);
        return !validation.HasErrors && value is not null;
    }
}
