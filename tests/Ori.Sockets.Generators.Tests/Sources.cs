namespace Ori.Sockets.Generators.Tests;

/// <summary>Representative user code the tests feed to the generator.</summary>
internal static class Sources
{
    /// <summary>A contracts library: messages only, every supported member kind.</summary>
    public const string Contracts = """
        using System.Text.Json.Serialization;

        namespace Shop.Contracts;

        public enum Priority { Low, Normal, VeryHigh }

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

            public Guid[]? Coupons { get; init; }

            public DateTimeOffset? At { get; init; }

            public TimeSpan? Window { get; init; }

            [JsonPropertyName("note_text")]
            public string? Note { get; init; }
        }

        public sealed record Address([property: Required] string City, string? Street);

        public sealed class OrderLine
        {
            [StringLength(10)]
            public required string Item { get; init; }

            [Range(0.0, 1000.0)]
            public double Weight { get; init; }
        }

        public sealed record OrderPlaced(string OrderId, int Quantity, Priority Priority);

        [SocketMessage("order.shipped")]
        public sealed partial record OrderShipped([property: Required] string OrderId, DateTime ShippedAt, long? Tracking);
        """;

    /// <summary>A server: a router with guards, a typed context and every handler shape.</summary>
    public const string Router = """
        using Shop.Contracts;

        namespace Shop.Server;

        public sealed record Shopper(string Name);

        public sealed class ShopperGuard : ConnectionGuard<Shopper>
        {
            protected override ValueTask<Shopper?> AuthenticateAsync(ConnectionGuardContext context) => new(new Shopper("ann"));
        }

        public sealed class Limiter : IMessageGuard
        {
            public ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation) => new(MessageGuardVerdict.Allow);
        }

        public sealed class OrderBook
        {
            public string Next() => "o-1";
        }

        [SocketEndpoint(typeof(ShopRouter))]
        [ConnectionGuard(typeof(ShopperGuard))]
        public sealed partial class ShopSocket;

        [MessageGuard(typeof(Limiter))]
        public sealed class ShopRouter(OrderBook book)
        {
            [SocketRoute("order.place")]
            public async ValueTask<OrderPlaced> Place(PlaceOrder order, SocketContext<Shopper> context, CancellationToken cancellationToken)
            {
                await context.SubscribeAsync("orders:" + context.State.Name, cancellationToken);
                return new OrderPlaced(book.Next(), order.Quantity, order.Priority);
            }

            [SocketRoute("order.shipped")]
            public Task Shipped(OrderShipped shipped) => Task.CompletedTask;

            [SocketRoute("order.count")]
            public int Count() => 1;

            [SocketRoute("order.ping")]
            public static void Ping(SocketContext context) { }
        }
        """;

    /// <summary>A file nothing else depends on: edits to it must not re-run the emit steps.</summary>
    public const string Unrelated = """
        namespace Shop.Server;

        public static class Clock
        {
            public static DateTime Now() => DateTime.UtcNow;
        }
        """;
}
