using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;
using Ori.Sockets.PubSub;
using Ori.Sockets.Routing;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// One connection's life after the upgrade, in order: its guards (no frame is read meanwhile),
/// <c>ori.ready</c>, the hub, the connection handlers, the receive loop into the message pipeline, and
/// the end: out of the hub, subscriptions released through the provider, handlers told, writes finished.
/// </summary>
internal sealed class ConnectionLifecycle
{
    private readonly OriSocketsOptions _options;
    private readonly ConnectionLimits _limits;
    private readonly SocketHub _hub;
    private readonly ISocketProvider _provider;
    private readonly DependencyBound _dependencies;
    private readonly MessagePipeline _pipeline;
    private readonly ConnectionRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // A closing socket leaves the broadcast set and direct sends at once; one delegate for every connection.
    private readonly Action<string> _leaveHub;
    private readonly SocketMetrics _metrics;
    private readonly OutboundBudget _outbound;

    // Without connection handlers a connection needs no service scope until its first message (an idle one, none).
    private readonly bool _hasConnectionHandlers;

    public ConnectionLifecycle(
        IOptions<OriSocketsOptions> options,
        SocketHub hub,
        ISocketProvider provider,
        DependencyBound dependencies,
        ConnectionRegistry registry,
        MessageBudget budget,
        TimeProvider time,
        ILoggerFactory loggerFactory,
        SocketMetrics metrics,
        OutboundBudget outbound,
        IServiceProviderIsService? registrations = null)
    {
        _hasConnectionHandlers = registrations?.IsService(typeof(ISocketConnectionHandler)) ?? true;
        _metrics = metrics;
        _outbound = outbound;
        _options = options.Value;
        _limits = new ConnectionLimits(_options.ReceiveLimit, _options.OutboundQueueLimit, _options.CloseTimeout);
        _hub = hub;
        _provider = provider;
        _dependencies = dependencies;
        _registry = registry;
        _time = time;
        _logger = loggerFactory.CreateLogger(SocketLog.Category);
        _pipeline = new MessagePipeline(_options.MaxJsonDepth, budget, time, _logger, metrics);
        _leaveHub = hub.Remove;
    }

    /// <summary>Runs a connection of <paramref name="endpoint"/> whose handshake was answered, until it has ended.</summary>
    public Task RunAsync(HttpContext http, Stream stream, object? upgradeData, ISocketEndpoint endpoint) =>
        RunAsync(http, new UpgradedTransport(SocketConnection.ReaderOf(stream), stream, null, http.Abort, null), upgradeData, endpoint);

    /// <summary>
    /// Runs a connection whose handshake was answered on <paramref name="transport"/>, until it has ended. A transport
    /// with services of its own is a listener's: the request is let go once the guards have run.
    /// </summary>
    public Task RunAsync(HttpContext? http, UpgradedTransport transport, object? upgradeData, ISocketEndpoint endpoint)
    {
        var connection = transport.OutputPipe is { } pipe
            ? new SocketConnection(SocketIds.NewId(), transport.Input, pipe, _limits, _time, _logger, transport.Abort, _leaveHub, _outbound)
            : new SocketConnection(SocketIds.NewId(), transport.Input, transport.Output!, _limits, _time, _logger, transport.Abort, _leaveHub, _outbound);
        var context = new SocketContext(connection.Id, http!, transport.Services, upgradeData, _dependencies, connection.Closing);

        // The connection's own state machine lives as long as the socket: it holds the session and little else (the
        // transport, the hook's data and the guards' state stay out of it).
        return RunAsync(new Session(_pipeline, endpoint, context, connection, _options.MaxJsonDepth, _logger), transport.Services);
    }

    private async Task RunAsync(Session session, ConnectionServices? services)
    {
        var connection = session.Connection;
        using (connection)
        {
            _registry.Track(connection);
            _metrics.Opened();
            _outbound.Opened();
            try
            {
                await AdmitAsync(session, releaseRequest: services is not null).ConfigureAwait(false);
                await connection.ReceiveAsync(session).ConfigureAwait(false);
            }
            finally
            {
                _outbound.Closed();
                await EndAsync(session).ConfigureAwait(false);
                if (services is not null)
                {
                    // A listener's connection services end with the connection.
                    await services.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// Runs the guards; a socket they pass gets <c>ori.ready</c>, joins the hub and its connection handlers run, one
    /// they refuse is closed. What it took on is kept on the session, for <see cref="EndAsync"/>.
    /// </summary>
    private async Task AdmitAsync(Session session, bool releaseRequest)
    {
        var (connection, context, endpoint) = (session.Connection, session.Context, session.Endpoint);
        var (verdict, guardExpiry) = await ConnectionGuardRunner.RunAsync(endpoint, context, _options.GuardTimeout, _time, _logger).ConfigureAwait(false);
        if (verdict == GuardVerdict.Passed && !TryResolveUser(context, context.HttpContext!))
        {
            verdict = GuardVerdict.Failed;
        }

        if (verdict == GuardVerdict.Passed)
        {
            // Credentials that expire close the socket at that moment (4001): the client reconnects with fresh ones.
            session.Expiry = CredentialsExpiry.Watch(guardExpiry ?? CredentialsExpiry.Of(context.HttpContext!), connection, _time, _logger);
        }

        if (releaseRequest)
        {
            // A listener's connection keeps no HTTP objects from here on.
            context.ReleaseHttpContext();
        }

        if (verdict != GuardVerdict.Passed)
        {
            var (code, reason) = verdict == GuardVerdict.Refused
                ? (SocketCloseCodes.PolicyViolation, "Connection rejected by guard")
                : (SocketCloseCodes.InternalError, "Connection guard failed");
            connection.Close(code, reason);
            return;
        }

        // ori.ready is queued before the socket joins the hub so that it is the first frame out, and written on this
        // thread (one thread-pool hop less per connect).
        await connection.SendReadyAsync(EnvelopeFrames.Ready(connection.Id, _time.GetUtcNow().ToUnixTimeMilliseconds())).ConfigureAwait(false);
        _hub.Add(connection, context.UserId);
        session.JoinedHub = true;

        if (connection.IsClosing)
        {
            // Closed while its guards ran (shutdown, say): it must not stay in the hub.
            _hub.Remove(connection.Id);
        }

        SocketLog.Connected(_logger, connection.Id);
        if (_hasConnectionHandlers)
        {
            session.Handlers = [.. context.Services.GetServices<ISocketConnectionHandler>()];
        }

        foreach (var handler in session.Handlers)
        {
            if (!await TryRunHandlerAsync(handler, context, connected: true).ConfigureAwait(false))
            {
                connection.Close(SocketCloseCodes.InternalError, "Connection handler failed");
                break;
            }
        }
    }

    /// <summary>Undoes what the admission took on (hub, provider, handlers), then ends the connection.</summary>
    private async Task EndAsync(Session session)
    {
        var connection = session.Connection;
        connection.StopWork();
        session.Dispose();
        session.Expiry?.Dispose();
        if (session.JoinedHub)
        {
            _hub.Remove(connection.Id);
            try
            {
                await _provider.ReleaseAsync(connection.Id).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A provider failure must not keep the connection from ending.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SocketLog.ProviderReleaseFailed(_logger, connection.Id, ex);
            }

            _hub.Forget(connection.Id);
            foreach (var handler in session.Handlers)
            {
                await TryRunHandlerAsync(handler, session.Context, connected: false).ConfigureAwait(false);
            }
        }

        await connection.EndAsync().ConfigureAwait(false);
        _registry.Untrack(connection);
        _metrics.Closed(connection.CloseCode ?? 1006); // 1006: ended without a close handshake (RFC 6455, never sent)
        SocketLog.Disconnected(_logger, connection.Id);
    }

    /// <summary>The socket's user id: the one a guard set, else the claims rule's; false (logged) when it is not valid.</summary>
    private bool TryResolveUser(SocketContext context, HttpContext http)
    {
        context.UserId ??= _options.UserIdFromClaims?.Invoke(http.User);
        if (context.UserId is { } userId && !SocketNames.IsValidUserId(userId))
        {
            SocketLog.InvalidUserId(_logger, context.SocketId, SocketLog.ClientText(userId));
            return false;
        }

        return true;
    }

    private async ValueTask<bool> TryRunHandlerAsync(ISocketConnectionHandler handler, SocketContext context, bool connected)
    {
        try
        {
            if (connected)
            {
                await handler.OnConnectedAsync(context).ConfigureAwait(false);
            }
            else
            {
                await handler.OnDisconnectedAsync(context).ConfigureAwait(false);
            }

            return true;
        }
#pragma warning disable CA1031 // User code: its failure is logged and must not tear down the server.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            SocketLog.ConnectionHandlerFailed(_logger, context.SocketId, handler.GetType().Name, ex);
            return false;
        }
    }

    /// <summary>
    /// Hands a connection's messages to the pipeline with its endpoint and invocation; the invocation (its buffers and
    /// validation state) is made for the first message, so that an idle connection holds none. It also keeps what the
    /// admission took on, for the connection's end.
    /// </summary>
    private sealed class Session(MessagePipeline pipeline, ISocketEndpoint endpoint, SocketContext context, SocketConnection connection, int maxJsonDepth, ILogger logger)
        : IInboundHandler, IDisposable
    {
        private SocketInvocation? _invocation;

        public SocketConnection Connection => connection;

        public SocketContext Context => context;

        public ISocketEndpoint Endpoint => endpoint;

        /// <summary>Whether the socket joined the hub (it passed its guards).</summary>
        public bool JoinedHub { get; set; }

        /// <summary>The watch on the credentials' expiry, if any.</summary>
        public IDisposable? Expiry { get; set; }

        /// <summary>The connection handlers that ran for the connect and run again for the disconnect.</summary>
        public ISocketConnectionHandler[] Handlers { get; set; } = [];

        public ValueTask OnMessageAsync(ReadOnlyMemory<byte> message) =>
            pipeline.ProcessAsync(endpoint, _invocation ??= new SocketInvocation(context, connection, maxJsonDepth, logger), message);

        public bool TryAnswerOutOfTurn(ReadOnlySpan<byte> message) => MessagePipeline.TryAnswerHeartbeat(connection, message);

        public void Dispose() => _invocation?.ConnectionBudget?.Dispose();
    }
}

/// <summary>An upgraded connection's transport.</summary>
/// <param name="Input">Where frames are read.</param>
/// <param name="Output">Where frames are written: the upgraded stream; or null, with <paramref name="OutputPipe"/>.</param>
/// <param name="OutputPipe">The transport's output pipe (a listener's connection), written without a stream between.</param>
/// <param name="Abort">Cuts the transport.</param>
/// <param name="Services">The connection's own services (a listener's, disposed when it ends), or null: the request's.</param>
internal readonly record struct UpgradedTransport(PipeReader Input, Stream? Output, PipeWriter? OutputPipe, Action Abort, ConnectionServices? Services);
