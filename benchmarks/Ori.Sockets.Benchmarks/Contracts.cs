using System.ComponentModel.DataAnnotations;
using Ori.Sockets;

namespace Ori.Sockets.Benchmarks;

/// <summary>A small message: one constrained string.</summary>
[SocketMessage("presence.update")]
public sealed partial record PresenceUpdate([property: Required, AllowedValues("active", "idle", "away")] string Status) : ISocketRequest<PresenceAck>;

public sealed record PresenceAck(bool Updated);

/// <summary>A medium message: a dozen members, a nested object and a list.</summary>
[SocketMessage("order.place")]
public sealed partial record PlaceOrder(
    [property: Required, StringLength(32, MinimumLength = 2)] string Sku,
    [property: Range(1, 100)] int Quantity,
    [property: AllowedValues("web", "app")] string Channel,
    Address ShipTo,
    [property: MinLength(1), MaxLength(10)] List<OrderLine> Lines,
    decimal? Discount,
    Guid ClientId,
    DateTimeOffset At,
    [property: RegularExpression("^[A-Z]{3}$")] string Currency,
    string? Note) : ISocketRequest<OrderPlaced>;

public sealed record Address([property: Required] string City, [property: StringLength(64)] string Street, string Zip);

public sealed record OrderLine([property: Required, StringLength(16)] string Item, [property: Range(0.0, 1000.0)] double Weight);

public sealed record OrderPlaced(string OrderId, int Quantity);

public sealed class BenchRouter
{
    private static readonly PresenceAck s_ack = new(true);

    [SocketRoute("presence.update")]
    public PresenceAck Update(PresenceUpdate update) => s_ack;

    [SocketRoute("order.place")]
    public OrderPlaced Place(PlaceOrder order) => new("o-1", order.Quantity);
}

/// <summary>Payloads as a client sends them.</summary>
public static class Payloads
{
    public static readonly byte[] Small = """{"type":"presence.update","data":{"status":"idle"},"correlationId":"c-42"}"""u8.ToArray();

    public static readonly byte[] Medium = """
        {"type":"order.place","data":{"sku":"SKU-12345","quantity":3,"channel":"web",
        "shipTo":{"city":"Oslo","street":"Karl Johans gate 1","zip":"0154"},
        "lines":[{"item":"bolt","weight":1.5},{"item":"nut","weight":0.25},{"item":"washer","weight":0.1}],
        "discount":0.15,"clientId":"0f8fad5b-d9cb-469f-a165-70867728950e","at":"2026-11-30T10:00:00+01:00",
        "currency":"NOK","note":"leave at the door"},"correlationId":"c-43"}
        """u8.ToArray();

    public static ReadOnlyMemory<byte> DataOf(byte[] envelope)
    {
        var reader = new System.Text.Json.Utf8JsonReader(envelope);
        reader.Read();
        while (reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.PropertyName)
        {
            var isData = reader.ValueTextEquals("data"u8);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (isData)
            {
                return envelope.AsMemory(start, (int)reader.BytesConsumed - start);
            }
        }

        throw new InvalidOperationException("no data");
    }
}

/// <summary>A push.</summary>
[SocketMessage("presence.changed")]
public sealed partial record PresenceChanged(string UserId, string Status);

/// <summary>The same messages as plain classes, for the reflection baselines.</summary>
public sealed class PresenceUpdateDto
{
    [Required, AllowedValues("active", "idle", "away")]
    public string? Status { get; set; }
}

public sealed class PlaceOrderDto
{
    [Required, StringLength(32, MinimumLength = 2)] public string? Sku { get; set; }
    [Range(1, 100)] public int Quantity { get; set; }
    [AllowedValues("web", "app")] public string? Channel { get; set; }
    [Required] public AddressDto? ShipTo { get; set; }
    [MinLength(1), MaxLength(10)] public List<OrderLineDto>? Lines { get; set; }
    public decimal? Discount { get; set; }
    public Guid ClientId { get; set; }
    public DateTimeOffset At { get; set; }
    [RegularExpression("^[A-Z]{3}$")] public string? Currency { get; set; }
    public string? Note { get; set; }
}

public sealed class AddressDto
{
    [Required] public string? City { get; set; }
    [StringLength(64)] public string? Street { get; set; }
    public string? Zip { get; set; }
}

public sealed class OrderLineDto
{
    [Required, StringLength(16)] public string? Item { get; set; }
    [Range(0.0, 1000.0)] public double Weight { get; set; }
}
