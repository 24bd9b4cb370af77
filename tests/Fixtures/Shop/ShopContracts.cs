using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;

namespace Ori.Sockets.Tests.Generated;

// The Shop fixture: messages as a user writes them (the generator adds their names, serializers, validators and
// schemas). Compiled into Ori.Sockets.Tests, where real servers use them, and fed as text to the generator's
// snapshot and incrementality tests: one fixture for both.

public enum Priority
{
    Low,
    Normal,
    VeryHigh,
}

[SocketMessage("order.place")]
public sealed partial record PlaceOrder(
    [property: Required, StringLength(32, MinimumLength = 2)] string Sku,
    [property: Range(1, 100)] int Quantity,
    Priority Priority,
    Address? ShipTo,
    [property: MinLength(1), MaxLength(3)] List<OrderLine> Lines,
    [property: AllowedValues("web", "app")] string Channel = "web") : ISocketRequest<OrderPlaced>
{
    public Dictionary<string, int>? Tags { get; init; }

    [RegularExpression("^[A-Z]{3}$")]
    public string? Currency { get; init; }

    public decimal? Discount { get; init; }

    public Guid? ClientId { get; init; }

    public Guid[]? Coupons { get; init; }

    public DateTimeOffset? At { get; init; }

    public TimeSpan? Window { get; init; }

    [JsonPropertyName("note_text")]
    public string? Note { get; init; }
}

public sealed record Address([property: Required] string City, string? Street);

/// <summary>A class with a C# required member and an init member with a bound.</summary>
public sealed class OrderLine
{
    [StringLength(10)]
    public required string Item { get; init; }

    [Range(0.0, 1000.0)]
    public double Weight { get; init; }
}

public sealed record OrderPlaced(string OrderId, int Quantity, Priority Priority, IReadOnlyList<string> Notes);

[SocketMessage("order.shipped")]
public sealed partial record OrderShipped([property: Required] string OrderId, [property: Range(0, 10)] int Boxes);

/// <summary>A value-type message: reading it allocates nothing.</summary>
public readonly record struct StockCheck([property: Range(1, 1000)] int Count, bool Urgent);

/// <summary>A class with init and required properties, holding a nested message and other shapes.</summary>
[SocketMessage("stock.report")]
public sealed partial class StockReport
{
    public required string Warehouse { get; init; }

    [Range(0, 1_000_000)]
    public long Units { get; init; }

    public OrderShipped? LastShipment { get; init; }

    public uint[] Bins { get; init; } = [];

    public Dictionary<string, Priority> Priorities { get; init; } = [];

    public DateOnly? Day { get; init; }

    public TimeOnly? At { get; init; }

    public char Grade { get; init; } = 'A';

    [MaxLength(2)]
    public IReadOnlyList<Address>? Docks { get; init; }

    public float Ratio { get; set; }

    public byte Level { get; set; }
}

/// <summary>Messages nested in a type: the generator writes their partials inside it.</summary>
public static partial class Catalog
{
    [SocketMessage("catalog.search")]
    public sealed partial record Search([property: Required, StringLength(40)] string Text, [property: Range(1, 50)] int Limit = 10) : ISocketRequest<Results>;

    public sealed record Results(IReadOnlyList<Hit> Hits);

    public sealed record Hit(string Sku, decimal Price);
}
