using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Ori.Sockets.Hosting;

/// <summary>
/// Ori.Sockets' own Kestrel transport, for the listeners served with <c>UseOriSockets</c> only: Kestrel asks it first
/// (the last registered transport is asked first) and it binds just the endpoints those listeners claimed; every other
/// endpoint goes on to Kestrel's socket transport. Its connections have no pipes: a read waits for data before it takes
/// a buffer (an idle socket holds none), and a write goes to the socket from the writer's own buffer.
/// </summary>
internal sealed class SocketTransport : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>Kestrel's default for its socket transport.</summary>
    private const int Backlog = 512;

    private readonly HashSet<EndPoint> _claimed = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _sync = new();

    /// <summary>
    /// Claims a listener's endpoint: called when Kestrel builds the listener's connection pipeline, right before it binds
    /// that same endpoint object (a listener that falls back to another address builds again with the new one).
    /// </summary>
    public void Claim(EndPoint endPoint)
    {
        lock (_sync)
        {
            _claimed.Add(endPoint);
        }
    }

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint)
    {
        lock (_sync)
        {
            return endpoint is IPEndPoint && _claimed.Contains(endpoint);
        }
    }

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint is IPEndPoint { Address: var address } && address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endpoint);
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new ValueTask<IConnectionListener>(new Listener(socket));
    }

    /// <summary>A bound socket's accept loop, as Kestrel drives it.</summary>
    private sealed class Listener(Socket socket) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                try
                {
                    var accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    accepted.NoDelay = true;
                    return new SocketTransportConnection(accepted);
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null;
                }
                catch (SocketException)
                {
                    // A peer that reset before it was accepted: accept the next.
                }
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return default;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return default;
        }
    }
}
