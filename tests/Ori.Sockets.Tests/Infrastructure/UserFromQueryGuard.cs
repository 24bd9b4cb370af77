namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>A connection guard that takes the socket's user id from the query (<c>?user=alice</c>), for tests.</summary>
internal sealed class UserFromQueryGuard : IConnectionGuard
{
    public ValueTask<bool> CanConnectAsync(ConnectionGuardContext context)
    {
        context.UserId = context.HttpContext.Request.Query["user"].ToString() is { Length: > 0 } user ? user : null;
        return new(true);
    }
}
