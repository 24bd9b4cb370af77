using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Ori.Sockets;

/// <summary>What a connection guard sees of the connection it decides on.</summary>
public sealed class ConnectionGuardContext
{
    private readonly SocketContext _socket;

    internal ConnectionGuardContext(SocketContext socket, CancellationToken cancellationToken)
    {
        _socket = socket;
        CancellationToken = cancellationToken;
    }

    /// <summary>The socket's id.</summary>
    public string SocketId => _socket.SocketId;

    /// <summary>The HTTP request that was upgraded (headers, query, cookies).</summary>
    public HttpContext HttpContext => _socket.HttpContext;

    /// <summary>The user of the HTTP request, as authentication middleware left it.</summary>
    public ClaimsPrincipal User => _socket.User;

    /// <summary>What the upgrade hook attached to the connection, if anything.</summary>
    public object? UpgradeData => _socket.UpgradeData;

    /// <summary>The connection's state, kept for its whole life and seen by its handlers.</summary>
    public object? State
    {
        get => _socket.State;
        set => _socket.State = value;
    }

    /// <summary>The connection's services (scoped to the connection).</summary>
    public IServiceProvider Services => _socket.Services;

    /// <summary>
    /// When the credentials the connection was accepted with expire: at that moment the socket is closed with 4001
    /// (<see cref="SocketCloseCodes.CredentialsExpired"/>) and the client reconnects with fresh ones. Set it from the
    /// token a guard checks; when no guard sets it, the authentication's <c>ExpiresUtc</c> or the user's <c>exp</c>
    /// claim applies.
    /// </summary>
    public DateTimeOffset? CredentialsExpireAt { get; set; }

    /// <summary>Canceled when the guard's time limit passes or the connection ends.</summary>
    public CancellationToken CancellationToken { get; }
}
