using Microsoft.Extensions.Primitives;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>A signed-in dashboard user: the state the connection guard gives every socket.</summary>
/// <param name="UserId">The user.</param>
/// <param name="AccountId">The account (tenant) the user belongs to.</param>
public sealed record DashboardUser(string UserId, string AccountId);

/// <summary>The demo users and their tokens (a real app would validate a JWT here).</summary>
public static class DemoUsers
{
    private static readonly (string Token, DashboardUser User)[] s_users =
    [
        ("alice-token", new DashboardUser("alice", "acme")),
        ("bob-token", new DashboardUser("bob", "acme")),
        ("eve-token", new DashboardUser("eve", "globex")),
    ];

    /// <summary>The user a token stands for, or null.</summary>
    /// <param name="token">The token.</param>
    /// <returns>The user, or null for a missing or unknown token.</returns>
    public static DashboardUser? FromToken(string? token) => s_users.FirstOrDefault(u => u.Token == token).User;

    /// <summary>A user of the demo, by id, or null.</summary>
    /// <param name="userId">The user's id.</param>
    /// <returns>The user, or null for an unknown id.</returns>
    public static DashboardUser? Find(string userId) => s_users.FirstOrDefault(u => u.User.UserId == userId).User;

    /// <summary>The user of an <c>Authorization: Bearer</c> header, or null.</summary>
    /// <param name="request">The HTTP request.</param>
    /// <returns>The user, or null.</returns>
    public static DashboardUser? FromBearer(HttpRequest request)
    {
        StringValues header = request.Headers.Authorization;
        var value = header.ToString();
        return value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? FromToken(value["Bearer ".Length..].Trim()) : null;
    }
}

/// <summary>Admits a WebSocket whose <c>?token=</c> is a demo token; refuses (1008) any other.</summary>
public sealed class TokenGuard : ConnectionGuard<DashboardUser>
{
    /// <inheritdoc />
    protected override ValueTask<DashboardUser?> AuthenticateAsync(ConnectionGuardContext context)
    {
        // The token a client's provider gives: a bearer header (.NET client), access_token (browser client), or token.
        var request = context.HttpContext.Request;
        var header = request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..]
            : request.Query.TryGetValue("access_token", out var accessToken) ? accessToken.ToString()
            : request.Query["token"].ToString();
        var user = DemoUsers.FromToken(token);

        // Who the socket is: sends to a user and disconnecting a user find it by this.
        context.UserId = user?.UserId;
        return new(user);
    }
}

/// <summary>Topic names, in one place.</summary>
public static class Topics
{
    /// <summary>Everyone of an account: presence.</summary>
    public static string Account(string accountId) => $"account:{accountId}";

    /// <summary>A project's monitors.</summary>
    public static string Monitors(string accountId, string projectId) => $"monitors:{accountId}:{projectId}";

    /// <summary>A project's incidents.</summary>
    public static string Incidents(string accountId, string projectId) => $"incidents:{accountId}:{projectId}";

    /// <summary>Whether a topic belongs to an account.</summary>
    public static bool BelongsTo(string topic, string accountId) =>
        topic == Account(accountId)
        || topic.StartsWith($"monitors:{accountId}:", StringComparison.Ordinal)
        || topic.StartsWith($"incidents:{accountId}:", StringComparison.Ordinal);
}
