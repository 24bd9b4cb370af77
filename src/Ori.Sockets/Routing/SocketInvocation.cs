using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets;

/// <summary>
/// One routed message being handled: its type, its raw <c>data</c>, its connection, and the way to
/// reply. Generated dispatch code reads the data with <see cref="TryReadData"/> and answers with
/// <see cref="Reply"/> or <see cref="Complete"/>. One instance per connection is reused for every
/// message: it is valid only until the handler's task completes.
/// </summary>
public sealed class SocketInvocation
{
    private readonly IOutboundSocket _socket;
    private readonly int _maxJsonDepth;
    private readonly ILogger _logger;
    private readonly byte[] _type = new byte[SocketNames.MaxTypeLength];
    private readonly SocketValidationContext _validation = new("$.data");
    private int _typeLength;
    private ReadOnlyMemory<byte> _correlationId;
    private string? _typeName;

    internal SocketInvocation(SocketContext context, IOutboundSocket socket, int maxJsonDepth, ILogger logger)
    {
        Context = context;
        _socket = socket;
        _maxJsonDepth = maxJsonDepth;
        _logger = logger;
    }

    /// <summary>The envelope's <c>type</c>, as UTF-8.</summary>
    public ReadOnlySpan<byte> Type => _type.AsSpan(0, _typeLength);

    /// <summary>The envelope's <c>type</c> as a string (allocated on first use).</summary>
    public string TypeName => _typeName ??= Encoding.UTF8.GetString(Type);

    /// <summary>The message's <c>data</c> as raw JSON (an empty object when the envelope had none).</summary>
    public ReadOnlyMemory<byte> Data { get; private set; }

    /// <summary>Whether the client sent a <c>correlationId</c>.</summary>
    public bool HasCorrelationId => !_correlationId.IsEmpty;

    /// <summary>Whether this message has been answered.</summary>
    public bool HasReplied { get; private set; }

    /// <summary>The connection the message came from.</summary>
    public SocketContext Context { get; }

    /// <summary>The connection's services.</summary>
    public IServiceProvider Services => Context.Services;

    /// <summary>Canceled when the socket starts closing.</summary>
    public CancellationToken Aborted => Context.Aborted;

    /// <summary>
    /// Reads and validates <see cref="Data"/>. When it is not valid, replies <c>validation_failed</c>
    /// with a JSON path for each failure and returns <see langword="false"/>: the handler is not called.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="serializer">The message's serializer.</param>
    /// <param name="value">The message, when valid.</param>
    /// <returns><see langword="true"/> when the data is valid.</returns>
    public bool TryReadData<T>(SocketSerializer<T> serializer, [MaybeNullWhen(false)] out T value)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        _validation.Reset("$.data");
        value = default;
        try
        {
            var reader = new Utf8JsonReader(Data.Span, new JsonReaderOptions { MaxDepth = _maxJsonDepth });
            reader.Read();
            value = serializer.Read(ref reader, _validation);
        }
        catch (JsonException)
        {
            if (!_validation.HasErrors)
            {
                _validation.AddError("The value does not have the expected shape.");
            }
        }
        catch (FormatException)
        {
            if (!_validation.HasErrors)
            {
                _validation.AddError("The value does not have the expected format.");
            }
        }

        if (_validation.HasErrors || value is null)
        {
            if (!_validation.HasErrors)
            {
                _validation.AddError("A value is required.");
            }

            ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", _validation.Errors);
            value = default;
            return false;
        }

        return true;
    }

    /// <summary>Replies with <paramref name="value"/> as the reply's <c>data</c>.</summary>
    /// <typeparam name="T">The reply type.</typeparam>
    /// <param name="value">The handler's result.</param>
    /// <param name="serializer">The reply type's serializer.</param>
    public void Reply<T>(T value, SocketSerializer<T> serializer)
    {
        ArgumentNullException.ThrowIfNull(serializer);
        ThrowIfReplied();
        HasReplied = true;
        _socket.TryEnqueue(EnvelopeFrames.Reply(Type, _correlationId.Span, (value, serializer), static (writer, state) => state.serializer.Write(writer, state.value)));
    }

    /// <summary>
    /// Finishes a message whose handler returns nothing: replies with <c>"data": null</c> when the client
    /// sent a correlation id (it waits for an answer), and sends nothing otherwise.
    /// </summary>
    public void Complete()
    {
        ThrowIfReplied();
        HasReplied = true;
        if (HasCorrelationId)
        {
            _socket.TryEnqueue(EnvelopeFrames.Reply(Type, _correlationId.Span, 0, static (writer, _) => writer.WriteNullValue()));
        }
    }

    /// <summary>Replies with an error (protocol section 3).</summary>
    /// <param name="code">One of <see cref="SocketErrorCodes"/>.</param>
    /// <param name="message">Text for humans; never exception text.</param>
    /// <param name="details">Failures with their JSON paths, for <c>validation_failed</c>.</param>
    public void ReplyError(string code, string message, IReadOnlyList<SocketValidationError>? details = null)
    {
        ThrowIfReplied();
        HasReplied = true;
        ErrorCode = code;
        _socket.TryEnqueue(EnvelopeFrames.Error(Type, _correlationId.Span, code, message, details));
    }

    /// <summary>Replies with the result of a handler once it completes; no allocation when it already has.</summary>
    /// <typeparam name="T">The reply type.</typeparam>
    /// <param name="pending">The handler's result.</param>
    /// <param name="serializer">The reply type's serializer.</param>
    /// <returns>Completes when the reply is queued.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ValueTask ReplyWhenDone<T>(ValueTask<T> pending, SocketSerializer<T> serializer)
    {
        if (pending.IsCompletedSuccessfully)
        {
            Reply(pending.Result, serializer);
            return default;
        }

        return AwaitReply(pending, serializer);
    }

    /// <summary>Replies with the result of a handler once it completes.</summary>
    /// <typeparam name="T">The reply type.</typeparam>
    /// <param name="pending">The handler's result.</param>
    /// <param name="serializer">The reply type's serializer.</param>
    /// <returns>Completes when the reply is queued.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ValueTask ReplyWhenDone<T>(Task<T> pending, SocketSerializer<T> serializer) => ReplyWhenDone(new ValueTask<T>(pending), serializer);

    /// <summary>Completes a handler that returns nothing once it has finished.</summary>
    /// <param name="pending">The handler's task.</param>
    /// <returns>Completes when the completion is queued.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ValueTask CompleteWhenDone(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            Complete();
            return default;
        }

        return AwaitComplete(pending);
    }

    /// <summary>Completes a handler that returns nothing once it has finished.</summary>
    /// <param name="pending">The handler's task.</param>
    /// <returns>Completes when the completion is queued.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ValueTask CompleteWhenDone(Task pending) => CompleteWhenDone(new ValueTask(pending));

    /// <summary>
    /// Runs a message guard and acts on its verdict: replies <c>forbidden</c> or <c>rate_limited</c>,
    /// or closes the socket with 1008. Returns whether the handler may run.
    /// </summary>
    /// <param name="guard">The guard.</param>
    /// <returns><see langword="true"/> when the guard allows the message.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public async ValueTask<bool> PassesAsync(IMessageGuard guard)
    {
        ArgumentNullException.ThrowIfNull(guard);
        var verdict = await guard.CheckAsync(this).ConfigureAwait(false);
        return ApplyVerdict(verdict, guard);
    }

    /// <summary>
    /// Takes a permit from a rate limiter (a route's or a router's) and acts on its verdict: replies <c>rate_limited</c>,
    /// or closes the socket with 1008 when the client keeps going far past its limit. Returns whether the handler may run.
    /// </summary>
    /// <param name="limiter">The connection's limiter for the route or router.</param>
    /// <returns><see langword="true"/> when the message is within the budget.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public bool PassesRateLimit(SocketMessageRateLimiter limiter)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        return ApplyRateVerdict(limiter.Acquire());
    }

    /// <summary>
    /// Evaluates a route's authorization against the connection's user: when refused, replies <c>forbidden</c> (the
    /// connection stays) and returns <see langword="false"/>.
    /// </summary>
    /// <param name="authorization">The route's authorization.</param>
    /// <returns><see langword="true"/> when the user may send the message.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public async ValueTask<bool> AuthorizeAsync(SocketAuthorization authorization)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        if (await authorization.IsAllowedAsync(Context).ConfigureAwait(false))
        {
            return true;
        }

        ReplyError(SocketErrorCodes.Forbidden, $"'{TypeName}' is not allowed for this user.");
        return false;
    }

    /// <summary>The connection's own message budget, created on its first message.</summary>
    internal SocketMessageRateLimiter? ConnectionBudget { get; set; }

    internal bool ApplyRateVerdict(RateLimitVerdict verdict)
    {
        switch (verdict)
        {
            case RateLimitVerdict.Allow:
                return true;
            case RateLimitVerdict.Refuse:
                ReplyError(SocketErrorCodes.RateLimited, "Too many messages; slow down.");
                return false;
            default:
                SocketLog.RateLimitClosed(_logger, _socket.Id);
                _socket.Close(SocketCloseCodes.PolicyViolation, "Too many messages");
                return false;
        }
    }

    internal bool ApplyVerdict(MessageGuardVerdict verdict, IMessageGuard guard)
    {
        switch (verdict)
        {
            case MessageGuardVerdict.Allow:
                return true;
            case MessageGuardVerdict.Forbid:
                ReplyError(SocketErrorCodes.Forbidden, $"'{TypeName}' is not allowed.");
                return false;
            case MessageGuardVerdict.RateLimit:
                ReplyError(SocketErrorCodes.RateLimited, "Too many messages; slow down.");
                return false;
            default:
                SocketLog.MessageGuardClosed(_logger, _socket.Id, guard.GetType().Name);
                _socket.Close(SocketCloseCodes.PolicyViolation, "Policy violation");
                return false;
        }
    }

    private async ValueTask AwaitReply<T>(ValueTask<T> pending, SocketSerializer<T> serializer) =>
        Reply(await pending.ConfigureAwait(false), serializer);

    private async ValueTask AwaitComplete(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        Complete();
    }

    /// <summary>Starts a new message; its type was already copied into <see cref="TypeBuffer"/>.</summary>
    internal void Reset(int typeLength, ReadOnlyMemory<byte> correlationId, ReadOnlyMemory<byte> data)
    {
        _typeLength = typeLength;
        _typeName = null;
        _correlationId = correlationId;
        Data = data;
        HasReplied = false;
        ErrorCode = null;
        Routed = false;
    }

    /// <summary>The error code this message was answered with, or null (metrics).</summary>
    internal string? ErrorCode { get; private set; }

    /// <summary>Whether the message's type is a route the server knows (metrics: only those name a tag).</summary>
    internal bool Routed { get; set; }

    internal Span<byte> TypeBuffer => _type;

    /// <summary>The socket replies are queued on.</summary>
    internal IOutboundSocket Socket => _socket;


    internal void ReplyWith<TState>(TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        ThrowIfReplied();
        HasReplied = true;
        _socket.TryEnqueue(EnvelopeFrames.Reply(Type, _correlationId.Span, state, writeData));
    }

    internal void Clear()
    {
        _correlationId = default;
        Data = default;
    }

    private void ThrowIfReplied()
    {
        if (HasReplied)
        {
            throw new InvalidOperationException($"The message '{TypeName}' has already been answered; every message gets exactly one reply.");
        }
    }
}
