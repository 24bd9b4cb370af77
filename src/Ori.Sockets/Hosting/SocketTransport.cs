using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// Ori.Sockets' own Kestrel transport, for the listeners served with <c>UseOriSockets</c> only: Kestrel asks it first
/// (the last registered transport is asked first) and it binds just the endpoints those listeners claimed; every other
/// endpoint goes on to Kestrel's socket transport. Its connections have no pipes: a read waits for data before it takes
/// a buffer (an idle socket holds none), and a write goes to the socket from the writer's own buffer.
/// </summary>
/// <remarks>
/// A listener whose connection pipeline is the Ori.Sockets listener alone (no <c>UseHttps</c> or other connection
/// middleware in front) and that has no <c>MaxConcurrentConnections</c> is served directly: the accept loop hands
/// each socket to the listener on the thread that accepted it, as an event loop does. Kestrel's dispatch would queue
/// every connection to the thread pool and wake a worker for it; measured on one core, that hop was a fifth to a third
/// of a connect's CPU (docs/performance.md, "The accept loop"). Kestrel then never sees those connections: they are not in its connection logs and metrics (Ori.Sockets'
/// own are). Its stop is Kestrel's for its own connections: the ones still in their handshake are aborted, the WebSockets
/// waited for (the host's stop drains them) until the shutdown timeout, then aborted.
/// </remarks>
internal sealed class SocketTransport(ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>Kestrel's default for its socket transport.</summary>
    private const int Backlog = 512;

    private readonly Dictionary<EndPoint, ListenOptions> _claimed = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _sync = new();
    private readonly ILogger _logger = loggers.CreateLogger(SocketLog.Category);

    /// <summary>
    /// Claims a listener's endpoint: called when Kestrel builds the listener's connection pipeline, right before it binds
    /// that same endpoint object (a listener that falls back to another address builds again with the new one).
    /// </summary>
    public void Claim(ListenOptions listenOptions)
    {
        lock (_sync)
        {
            _claimed[listenOptions.EndPoint] = listenOptions;
        }
    }

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint)
    {
        lock (_sync)
        {
            return endpoint is IPEndPoint && _claimed.ContainsKey(endpoint);
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

        var listener = new Listener(socket, _logger);
        if (DirectPipeline(endpoint) is { } pipeline)
        {
            listener.ServeDirectly(pipeline);
        }

        return new ValueTask<IConnectionListener>(listener);
    }

    /// <summary>
    /// The listener's pipeline when the Ori.Sockets listener is all of it, else null (Kestrel dispatches). Kestrel built
    /// the pipeline just before it bound the endpoint and keeps it to itself: it is built again here, which only makes
    /// the middleware objects once more (the HTTP one that Kestrel appends last is never reached by the listener).
    /// </summary>
    private ConnectionDelegate? DirectPipeline(EndPoint endpoint)
    {
        ListenOptions? listenOptions;
        lock (_sync)
        {
            listenOptions = _claimed.GetValueOrDefault(endpoint);
        }

        if (listenOptions is null || listenOptions.KestrelServerOptions.Limits.MaxConcurrentConnections is not null)
        {
            return null;
        }

        var pipeline = listenOptions.Build();
        return pipeline.Target is SocketListener ? pipeline : null;
    }

    /// <summary>A bound socket's accept loop: Kestrel's, or its own when the listener is served directly.</summary>
    private sealed class Listener(Socket socket, ILogger logger) : IConnectionListener
    {
        private readonly TaskCompletionSource<ConnectionContext?> _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _sync = new();
        private const int AcceptRetryMilliseconds = 50;
        private SocketTransportConnection? _served;
        private long _lastAcceptFailure = long.MinValue / 2;
        private TaskCompletionSource? _allServed;
        private bool _direct;

        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        /// <summary>Starts the own accept loop: each connection runs <paramref name="pipeline"/> on the accepting thread.</summary>
        public void ServeDirectly(ConnectionDelegate pipeline)
        {
            _direct = true;

            // The loop keeps none of the caller's async locals (Kestrel's start-up runs here).
            using (ExecutionContext.SuppressFlow())
            {
                _ = AcceptLoopAsync(pipeline);
            }
        }

        /// <summary>Kestrel's accept loop: a directly served listener gives it nothing, and null once unbound.</summary>
        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default) =>
            _direct ? new ValueTask<ConnectionContext?>(_unbound.Task.WaitAsync(cancellationToken)) : AcceptOneAsync(cancellationToken);

        private async Task AcceptLoopAsync(ConnectionDelegate pipeline)
        {
            while (await AcceptOneAsync(CancellationToken.None).ConfigureAwait(false) is SocketTransportConnection connection)
            {
                _ = ServeAsync(connection, pipeline);
            }
        }

        /// <summary>
        /// Runs the pipeline on this thread until its first wait, then returns to the accept loop; the connection is
        /// disposed when the pipeline ends, as Kestrel does.
        /// </summary>
        private async Task ServeAsync(SocketTransportConnection connection, ConnectionDelegate pipeline)
        {
            Link(connection);
            try
            {
                await pipeline(connection).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // One connection's failure must not end the accept loop or the process.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SocketLog.ListenerConnectionFailed(logger, ex);
            }
            finally
            {
                Unlink(connection);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        private void Link(SocketTransportConnection connection)
        {
            lock (_sync)
            {
                connection.Next = _served;
                if (_served is not null)
                {
                    _served.Previous = connection;
                }

                _served = connection;
            }
        }

        private void Unlink(SocketTransportConnection connection)
        {
            lock (_sync)
            {
                if (connection.Previous is { } previous)
                {
                    previous.Next = connection.Next;
                }
                else if (_served == connection)
                {
                    _served = connection.Next;
                }

                if (connection.Next is { } next)
                {
                    next.Previous = connection.Previous;
                }

                connection.Previous = connection.Next = null;
                if (_served is null)
                {
                    _allServed?.TrySetResult();
                }
            }
        }

        /// <summary>
        /// A directly served listener's stop, as Kestrel's is for its own connections: the connections still in their
        /// handshake are aborted (a stopping server would refuse them 503), the WebSockets are waited for — the host's
        /// stop drains them with <c>ori.draining</c> and 1001 — until <paramref name="cancellationToken"/> (the host's
        /// shutdown timeout), then aborted.
        /// </summary>
        private async Task StopServingAsync(CancellationToken cancellationToken)
        {
            Task allServed;
            lock (_sync)
            {
                _allServed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_served is null)
                {
                    _allServed.TrySetResult();
                }

                allServed = _allServed.Task;
            }

            AbortServed(handshakesOnly: true);
            try
            {
                await allServed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                AbortServed(handshakesOnly: false);
            }
        }

        /// <summary>Aborts the connections still served directly (or only those still in their handshake).</summary>
        private void AbortServed(bool handshakesOnly)
        {
            List<SocketTransportConnection> open = [];
            lock (_sync)
            {
                for (var connection = _served; connection is not null; connection = connection.Next)
                {
                    if (!handshakesOnly || !connection.Upgraded)
                    {
                        open.Add(connection);
                    }
                }
            }

            foreach (var connection in open)
            {
                connection.Close();
            }
        }

        private async ValueTask<ConnectionContext?> AcceptOneAsync(CancellationToken cancellationToken)
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
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    // A peer that reset before it was accepted: accept the next.
                }
                catch (SocketException ex)
                {
                    // Out of file descriptors or buffers (EMFILE, ENFILE, ENOBUFS): the pending connection stays queued and
                    // the next accept would fail at once, so wait instead of spinning, and say so once a second at most.
                    var now = Environment.TickCount64;
                    if (now - _lastAcceptFailure >= 1000)
                    {
                        _lastAcceptFailure = now;
                        SocketLog.ListenerAcceptFailed(logger, ex.SocketErrorCode.ToString(), AcceptRetryMilliseconds, ex);
                    }

                    await Task.Delay(AcceptRetryMilliseconds, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            _unbound.TrySetResult(null);
            return _direct ? new ValueTask(StopServingAsync(cancellationToken)) : default;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            _unbound.TrySetResult(null);
            AbortServed(handshakesOnly: false);
            return default;
        }
    }
}
