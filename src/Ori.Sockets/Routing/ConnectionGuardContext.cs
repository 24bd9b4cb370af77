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

    /// <summary>Canceled when the guard's time limit passes or the connection ends.</summary>
    public CancellationToken CancellationToken { get; }
}
