// The Shop fixture's server side: endpoints, routers and guards (see ShopContracts.cs).

using Microsoft.AspNetCore.Authorization;

namespace Ori.Sockets.Tests.Generated;

public sealed record Shopper(string Name);

public sealed class ShopperGuard : ConnectionGuard<Shopper>
{
    protected override ValueTask<Shopper?> AuthenticateAsync(ConnectionGuardContext context)
    {
        var name = context.HttpContext.Request.Query["shopper"].ToString();
        var shopper = name.Length > 0 ? new Shopper(name) : null;

        // ?holdMs=N: a guard that takes its time (an I/O-bound check), for the tests of what a client sees meanwhile.
        return int.TryParse(context.HttpContext.Request.Query["holdMs"], out var hold) ? HoldAsync(shopper, hold, context.CancellationToken) : new(shopper);
    }

    private static async ValueTask<Shopper?> HoldAsync(Shopper? shopper, int milliseconds, CancellationToken cancellationToken)
    {
        await Task.Delay(milliseconds, cancellationToken).ConfigureAwait(false);
        return shopper;
    }
}

public sealed class OrderBook
{
    private int _next;

    public string NextId() => $"o-{Interlocked.Increment(ref _next)}";
}

public sealed class NoAdminGuard : IMessageGuard
{
    public ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation) =>
        new(invocation.Data.Span.IndexOf("ADMIN"u8) >= 0 ? MessageGuardVerdict.Forbid : MessageGuardVerdict.Allow);
}

[SocketEndpoint(typeof(ShopRouter), typeof(AccountRouter))]
[ConnectionGuard(typeof(ShopperGuard))]
public sealed partial class ShopSocket;

/// <summary>Routes for authenticated users (the upgrade's user): one for a role, one for a policy, one open to anyone.</summary>
[Authorize]
public sealed class AccountRouter
{
    [SocketRoute("account.me")]
    public static string Me(SocketContext context) => context.User.Identity?.Name ?? "?";

    [SocketRoute("account.audit")]
    [Authorize(Roles = "auditor")]
    public static string Audit() => "audited";

    [SocketRoute("account.gold")]
    [Authorize(Policy = "Gold")]
    public static string Gold() => "gold";

    [SocketRoute("account.open")]
    [AllowAnonymous]
    public static string Open() => "open";
}

/// <summary>An endpoint whose every connection must be authenticated: [Authorize] applies to the upgrade.</summary>
[Authorize]
[SocketEndpoint(typeof(MembersRouter))]
public sealed partial class MembersSocket;

public static class MembersRouter
{
    [SocketRoute("members.hello")]
    public static string Hello(SocketContext context) => "hello " + context.User.Identity?.Name;
}

public sealed class ShopRouter(OrderBook book)
{
    public int Created { get; } = Interlocked.Increment(ref s_instances);

    private static int s_instances;

    public static int Instances => s_instances;

    [SocketRoute("order.place")]
    [MessageGuard(typeof(NoAdminGuard))]
    public async ValueTask<OrderPlaced> Place(PlaceOrder order, SocketContext<Shopper> context, CancellationToken cancellationToken)
    {
        await Task.Yield();
        await context.SubscribeAsync($"orders:{context.State.Name}", cancellationToken);
        return new OrderPlaced(book.NextId(), order.Quantity, order.Priority, [order.Sku, order.Channel, context.State.Name]);
    }

    [SocketRoute("order.count")]
    public int Count() => Created;

    [SocketRoute("order.ping")]
    public void Ping(SocketContext context) => LastPinger = context.SocketId;

    public string? LastPinger { get; private set; }

    [SocketRoute("stock.check")]
    public void Check(StockCheck check) => Checked += check.Urgent ? check.Count : 0;

    public int Checked { get; private set; }

    /// <summary>A route with a budget of its own: 1 a second, 2 at once, per connection.</summary>
    [SocketRoute("stock.reserve")]
    [RateLimit(1, Burst = 2)]
    public int Reserve() => ++_reserved;

    private int _reserved;

    [SocketRoute("order.shipped")]
    public static Task<string> EchoShipped(OrderShipped shipped) => Task.FromResult($"{shipped.OrderId}:{shipped.Boxes}");
}

/// <summary>Refuses orders: an endpoint-level message guard, run before every route its endpoint serves.</summary>
public sealed class ReadOnlyGuard : IMessageGuard
{
    public ValueTask<MessageGuardVerdict> CheckAsync(SocketInvocation invocation) =>
        new(invocation.Type.SequenceEqual("order.place"u8) ? MessageGuardVerdict.Forbid : MessageGuardVerdict.Allow);
}

/// <summary>The same router behind another endpoint, whose message guard refuses orders.</summary>
[SocketEndpoint(typeof(ShopRouter))]
[ConnectionGuard(typeof(ShopperGuard))]
[MessageGuard(typeof(ReadOnlyGuard))]
public sealed partial class ReadOnlyShopSocket;

/// <summary>A second router, no endpoint serves it: MapOriSockets(pattern) serves it, with no guards.</summary>
public static class PublicRouter
{
    [SocketRoute("public.hello")]
    public static string Hello() => "hello";

    [SocketRoute("catalog.search")]
    public static Catalog.Results Search(Catalog.Search search) =>
        new([.. Enumerable.Range(1, search.Limit).Select(i => new Catalog.Hit($"{search.Text}-{i}", i * 1.5m))]);
}
