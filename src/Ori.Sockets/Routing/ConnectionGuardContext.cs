using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Ori.Sockets;

/// <summary>
/// What a connection guard sees of the connection it decides on, while its guards run. Once they have finished (or
/// overran their time limit) it lets go of the connection: a guard that never answers keeps this small object alive,
/// not the request, its buffers and its services; it then throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class ConnectionGuardContext
{
    private SocketContext? _socket;

    internal ConnectionGuardContext(SocketContext socket, CancellationToken cancellationToken)
    {
        _socket = socket;
        SocketId = socket.SocketId;
        CancellationToken = cancellationToken;
    }

    /// <summary>The socket's id.</summary>
    public string SocketId { get; }

    /// <summary>The HTTP request that was upgraded (headers, query, cookies).</summary>
    public HttpContext HttpContext => Socket.HttpContext ?? throw new InvalidOperationException("The upgraded request is let go once the connection guards have run.");

    /// <summary>The user of the HTTP request, as authentication middleware left it.</summary>
    public ClaimsPrincipal User => Socket.User;

    /// <summary>What the upgrade hook attached to the connection, if anything.</summary>
    public object? UpgradeData => Socket.UpgradeData;

    /// <summary>The connection's state, kept for its whole life and seen by its handlers.</summary>
    public object? State
    {
        get => Socket.State;
        set => Socket.State = value;
    }

    /// <summary>
    /// Who the socket is (1–256 characters, no control characters or white space): set it from the credentials a guard
    /// checks. Left unset, the <c>UserIdFromClaims</c> option takes it from <see cref="User"/>. A guard that sets an invalid
    /// one fails the connection (1011).
    /// </summary>
    public string? UserId
    {
        get => Socket.UserId;
        set => Socket.UserId = value;
    }

    /// <summary>The connection's services (scoped to the connection).</summary>
    public IServiceProvider Services => Socket.Services;

    /// <summary>
    /// When the credentials the connection was accepted with expire: at that moment the socket is closed with 4001
    /// (<see cref="SocketCloseCodes.CredentialsExpired"/>) and the client reconnects with fresh ones. Set it from the
    /// token a guard checks; when no guard sets it, the authentication's <c>ExpiresUtc</c> or the user's <c>exp</c>
    /// claim applies.
    /// </summary>
    public DateTimeOffset? CredentialsExpireAt { get; set; }

    /// <summary>Canceled when the guard's time limit passes or the connection ends.</summary>
    public CancellationToken CancellationToken { get; }

    private SocketContext Socket => _socket ?? throw new InvalidOperationException("The connection's guards have finished (or overran their time limit): this context no longer holds the connection.");

    /// <summary>The guards have finished: the context lets go of the connection.</summary>
    internal void Detach() => _socket = null;
}
