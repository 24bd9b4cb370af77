using System.Text;
using Ori.Sockets.Tests.Generated;

namespace Ori.Sockets.Tests.Unit;

/// <summary>Generated serializers for a class with init and required properties and nested shapes.</summary>
public sealed class GeneratedSerializerTests
{
    private const string Full = """
        {"warehouse":"north","units":12,"lastShipment":{"orderId":"o-1","boxes":2},"bins":[1,2],
         "priorities":{"a":"veryHigh"},"day":"2026-11-30","at":"13:45:00","grade":"B",
         "docks":[{"city":"Oslo","street":null}],"ratio":0.5,"level":7}
        """;

    [Fact]
    public void A_class_with_init_properties_round_trips()
    {
        Assert.True(StockReport.Serializer.TryDeserialize(Encoding.UTF8.GetBytes(Full), out var report, out var errors), string.Join("; ", errors));
        Assert.Equal("north", report.Warehouse);
        Assert.Equal(12, report.Units);
        Assert.Equal(new OrderShipped("o-1", 2), report.LastShipment);
        Assert.Equal([1u, 2u], report.Bins);
        Assert.Equal(Priority.VeryHigh, report.Priorities["a"]);
        Assert.Equal(new DateOnly(2026, 11, 30), report.Day);
        Assert.Equal(new TimeOnly(13, 45), report.At);
        Assert.Equal('B', report.Grade);
        Assert.Equal("Oslo", Assert.Single(report.Docks!).City);
        Assert.Equal(0.5f, report.Ratio);
        Assert.Equal(7, report.Level);

        var written = Encoding.UTF8.GetString(StockReport.Serializer.SerializeToUtf8Bytes(report));
        Assert.True(StockReport.Serializer.TryDeserialize(Encoding.UTF8.GetBytes(written), out var again, out _), written);
        Assert.Equal(report.LastShipment, again.LastShipment);
        Assert.Equal(report.Priorities["a"], again.Priorities["a"]);
        Assert.Contains("\"priorities\":{\"a\":\"veryHigh\"}", written, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_of_init_properties_stay_when_members_are_absent()
    {
        Assert.True(StockReport.Serializer.TryDeserialize("""{"warehouse":"w"}"""u8, out var report, out _));
        Assert.Empty(report.Bins);
        Assert.Equal('A', report.Grade);
        Assert.Null(report.LastShipment);
    }

    [Theory]
    [InlineData("""{"units":1}""", "$.warehouse")]
    [InlineData("""{"warehouse":null}""", "$.warehouse")]
    [InlineData("""{"warehouse":"w","units":-1}""", "$.units")]
    [InlineData("""{"warehouse":"w","lastShipment":{"orderId":"o","boxes":99}}""", "$.lastShipment.boxes")]
    [InlineData("""{"warehouse":"w","bins":[1,-2]}""", "$.bins[1]")]
    [InlineData("""{"warehouse":"w","priorities":{"x":"none"}}""", "$.priorities.x")]
    [InlineData("""{"warehouse":"w","day":"30/11/2026"}""", "$.day")]
    [InlineData("""{"warehouse":"w","grade":"AB"}""", "$.grade")]
    [InlineData("""{"warehouse":"w","docks":[{"city":"a"},{"city":"b"},{"city":"c"}]}""", "$.docks")]
    [InlineData("""{"warehouse":"w","docks":[{"street":"a"}]}""", "$.docks[0].city")]
    [InlineData("""{"warehouse":"w","ratio":1e39}""", "$.ratio")]
    [InlineData("""{"warehouse":"w","level":256}""", "$.level")]
    public void Every_failure_has_its_path(string json, string path)
    {
        Assert.False(StockReport.Serializer.TryDeserialize(Encoding.UTF8.GetBytes(json), out _, out var errors));
        Assert.Contains(errors, e => e.Path == path);
    }

    [Fact]
    public void The_schema_of_the_class_lists_its_required_member_and_nested_message()
    {
        using var schema = System.Text.Json.JsonDocument.Parse(StockReport.JsonSchema);
        Assert.Equal(["warehouse"], schema.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.True(schema.RootElement.GetProperty("$defs").TryGetProperty("OrderShipped", out _), StockReport.JsonSchema);
    }
}
