using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Ori.Sockets.PubSub;
using Ori.Sockets.Telemetry;
using StackExchange.Redis;

namespace Ori.Sockets.Redis;

/// <summary>
/// Publishes, broadcasts, sends and emits typed messages to the sockets of an Ori.Sockets application
/// from a process without WebSockets (a worker, a job), through the same Redis channels its instances
/// use. Typed emit comes from <c>SocketEmitterExtensions</c> (<c>EmitAsync</c>, <c>EmitToSocketAsync</c>…).
/// Connects on first use; a publish Redis does not take throws <see cref="OriSocketsRedisException"/>.
/// </summary>
public sealed class RedisSocketEmitter : ISocketEmitter, IAsyncDisposable, IDisposable
{
    private readonly RedisBus _bus;
    private readonly RedisCounters _counters = new();
    private readonly Lock _declaring = new();
    private RecoverableTopic[] _recoverable = [];
    private RedisHistories? _histories;

    /// <summary>Creates an emitter that connects with <see cref="OriSocketsRedisOptions.ConnectionString"/>.</summary>
    /// <param name="options">The options; the channel prefix must be the application's.</param>
    /// <param name="logger">Where connection problems are logged.</param>
    public RedisSocketEmitter(OriSocketsRedisOptions options, ILogger<RedisSocketEmitter>? logger = null)
        : this(options, null, logger)
    {
    }

    /// <summary>Creates an emitter over an existing multiplexer (which the caller keeps owning).</summary>
    /// <param name="multiplexer">The multiplexer.</param>
    /// <param name="options">The options; the channel prefix must be the application's.</param>
    /// <param name="logger">Where connection problems are logged.</param>
    public RedisSocketEmitter(IConnectionMultiplexer multiplexer, OriSocketsRedisOptions options, ILogger<RedisSocketEmitter>? logger = null)
        : this(options, multiplexer ?? throw new ArgumentNullException(nameof(multiplexer)), logger)
    {
    }

    private RedisSocketEmitter(OriSocketsRedisOptions options, IConnectionMultiplexer? multiplexer, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problem = OriSocketsRedisOptionsValidator.Problem(options, multiplexer is not null);
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        _bus = new RedisBus(options, multiplexer, logger ?? NullLogger.Instance, _counters, TimeProvider.System);
    }

    /// <summary>
    /// Declares recoverable topics as the application declares them (<c>AddRecoverableTopics</c>, same patterns and
    /// bounds): a publish to them takes its offset and is kept in the history the instances share. Declare them before
    /// the first publish; a push published to a recoverable topic without it carries no position.
    /// </summary>
    /// <param name="pattern">A topic, or a prefix ending with <c>*</c>.</param>
    /// <param name="maxMessages">The most pushes kept per topic; default 100.</param>
    /// <param name="maxAge">The oldest push kept; default 10 minutes.</param>
    /// <returns>This emitter.</returns>
    public RedisSocketEmitter AddRecoverableTopics(string pattern, int maxMessages = 100, TimeSpan? maxAge = null)
    {
        var topic = RecoverableTopic.Create(pattern, maxMessages, maxAge);
        lock (_declaring)
        {
            _recoverable = [.. _recoverable, topic];
            _histories = new RedisHistories(_bus, new TopicHistories(_recoverable, TimeProvider.System));
        }

        return this;
    }

    /// <inheritdoc />
    public async ValueTask PublishAsync(string topic, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        if (!SocketNames.IsValidTopic(topic))
        {
            throw new ArgumentException($"'{topic}' is not a valid topic.", nameof(topic));
        }

        ArgumentNullException.ThrowIfNull(frame);
        await _bus.StartAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _histories) is { } histories && histories.Find(topic) is { } policy)
        {
            await histories.PublishAsync(policy, topic, RedisSocketProvider.JoinExcept(exceptSocketIds), frame, cancellationToken).ConfigureAwait(false);
            return;
        }

        var deadline = _bus.Deadline();
        using var activity = SocketTracing.StartPublish("topic", topic);
        var message = RedisEnvelope.Encode(RedisMessageKind.Topic, _bus.Origin, topic, RedisSocketProvider.JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.TopicChannel(topic), message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask SendAsync(string socketId, SocketFrame frame, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketId);
        ArgumentNullException.ThrowIfNull(frame);
        await _bus.StartAsync().ConfigureAwait(false);
        var deadline = _bus.Deadline();
        using var activity = SocketTracing.StartPublish("send", socketId);
        var message = RedisEnvelope.Encode(RedisMessageKind.Send, _bus.Origin, socketId, null, frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask BroadcastAsync(SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        await _bus.StartAsync().ConfigureAwait(false);
        var deadline = _bus.Deadline();
        using var activity = SocketTracing.StartPublish("broadcast", null);
        var message = RedisEnvelope.Encode(RedisMessageKind.Broadcast, _bus.Origin, null, RedisSocketProvider.JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask SendToUserAsync(string userId, SocketFrame frame, IReadOnlyCollection<string>? exceptSocketIds = null, CancellationToken cancellationToken = default)
    {
        if (!SocketNames.IsValidUserId(userId))
        {
            throw new ArgumentException($"'{userId}' is not a valid user id.", nameof(userId));
        }

        ArgumentNullException.ThrowIfNull(frame);
        await _bus.StartAsync().ConfigureAwait(false);
        var deadline = _bus.Deadline();
        using var activity = SocketTracing.StartPublish("user", userId);
        var message = RedisEnvelope.Encode(RedisMessageKind.User, _bus.Origin, userId, RedisSocketProvider.JoinExcept(exceptSocketIds), frame.Payload.Span, deadline, SocketTracing.CurrentTraceparent());
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisconnectUserAsync(string userId, string reason, CancellationToken cancellationToken = default)
    {
        if (!SocketNames.IsValidUserId(userId))
        {
            throw new ArgumentException($"'{userId}' is not a valid user id.", nameof(userId));
        }

        await _bus.StartAsync().ConfigureAwait(false);
        var deadline = _bus.Deadline();
        var message = RedisEnvelope.Encode(RedisMessageKind.DisconnectUser, _bus.Origin, userId, null, System.Text.Encoding.UTF8.GetBytes(reason ?? string.Empty), deadline);
        await _bus.PublishAsync(_bus.ControlChannel, message, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection this emitter opened (a given multiplexer stays open).</summary>
    /// <returns>Completes when closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _bus.DisposeAsync().ConfigureAwait(false);
        _counters.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
