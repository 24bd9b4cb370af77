using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Ori.Sockets.Connections;
using Ori.Sockets.Protocol;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Routing;

/// <summary>
/// The inbound pipeline shared by every connection: one complete text message in, through the heartbeat,
/// the envelope, the built-in types and the message guards, to the application's handlers. Every routed
/// message gets exactly one reply, queued on the socket through its <see cref="SocketInvocation"/>.
/// </summary>
/// <param name="maxJsonDepth">The deepest JSON nesting accepted.</param>
/// <param name="budget">The connection's message budget.</param>
/// <param name="time">The clock of heartbeat replies and budgets.</param>
/// <param name="logger">Where handler failures are logged.</param>
/// <param name="metrics">Where each handled message is reported, when metrics are on.</param>
internal sealed class MessagePipeline(int maxJsonDepth, MessageBudget budget, TimeProvider time, ILogger logger, IMessageMetrics? metrics = null)
{
    private static readonly byte[] s_emptyObject = "{}"u8.ToArray();
    private readonly LogThrottle _failures = new(time, TimeSpan.FromMinutes(1));

    /// <summary>Handles one message of the connection <paramref name="invocation"/> belongs to, routed by its endpoint.</summary>
    public ValueTask ProcessAsync(ISocketDispatcher endpoint, SocketInvocation invocation, ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (TryAnswerHeartbeat(invocation.Socket, span))
        {
            return default;
        }

        var started = metrics is { MessagesEnabled: true } ? Stopwatch.GetTimestamp() : 0;

        // Every message but the heartbeat counts against the connection's budget, valid or not.
        var verdict = !budget.IsOn
            ? RateLimitVerdict.Allow
            : (invocation.ConnectionBudget ??= new SocketMessageRateLimiter(budget.PermitsPerSecond, budget.Burst, budget.CloseFactor, time)).Acquire();
        if (!EnvelopeReader.TryRead(span, maxJsonDepth, invocation.TypeBuffer, out var parts, out var error))
        {
            invocation.Reset(parts.TypeLength, CorrelationId(message, parts), default);
            if (invocation.ApplyRateVerdict(verdict))
            {
                invocation.ReplyError(SocketErrorCodes.BadRequest, error!);
            }

            Record(invocation, started);
            invocation.Clear();
            return default;
        }

        if (verdict != RateLimitVerdict.Allow)
        {
            invocation.Reset(parts.TypeLength, CorrelationId(message, parts), default);
            invocation.ApplyRateVerdict(verdict);
            Record(invocation, started);
            invocation.Clear();
            return default;
        }

        byte[]? flattened = null;
        ReadOnlyMemory<byte> data;
        if (parts.HasData)
        {
            data = message.Slice(parts.DataStart, parts.DataLength);
        }
        else if (parts.HasOtherMembers)
        {
            // The flattened form: the data is the envelope without its type and correlationId.
            flattened = ArrayPool<byte>.Shared.Rent(message.Length);
            var length = EnvelopeReader.WriteFlattenedData(span, maxJsonDepth, flattened);
            data = flattened.AsMemory(0, length);
        }
        else
        {
            data = s_emptyObject;
        }

        invocation.Reset(parts.TypeLength, CorrelationId(message, parts), data);

        // Its span, when anything listens: the current span while the handler runs (its own spans nest under it),
        // and the connection's again once it has started (the receive loop is not part of the message).
        var tracing = SocketTracing.IsOn;
        var previous = tracing ? Activity.Current : null;
        var activity = tracing ? SocketTracing.StartMessage(span.Slice(parts.TraceparentStart, parts.TraceparentLength), invocation.Context.SocketId) : null;
        ValueTask pending;
        try
        {
            pending = Dispatch(endpoint, invocation);
        }
#pragma warning disable CA1031 // A handler's exception becomes an internal_error reply; it never reaches the client or ends the connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(invocation, ex);
            Finish(invocation, flattened, started, activity);
            Restore(tracing, previous);
            return default;
        }

        if (pending.IsCompletedSuccessfully)
        {
            Finish(invocation, flattened, started, activity);
            Restore(tracing, previous);
            return default;
        }

        var completion = AwaitHandlerAsync(pending, invocation, flattened, started, activity);
        Restore(tracing, previous);
        return completion;
    }

    private static void Restore(bool tracing, Activity? previous)
    {
        if (tracing)
        {
            Activity.Current = previous;
        }
    }

    /// <summary>The message's metrics (when anything listens): its route, outcome, reply and time.</summary>
    private void Record(SocketInvocation invocation, long started)
    {
        if (metrics is { MessagesEnabled: true })
        {
            metrics.Handled(invocation.Type, invocation.Routed, invocation.ErrorCode, invocation.HasReplied, started);
        }
    }

    /// <summary>
    /// Answers the heartbeat <c>2</c> with <c>3</c>: it needs no turn of its own, so it is answered even while a
    /// handler of the same socket is still running. False for every other message.
    /// </summary>
    public static bool TryAnswerHeartbeat(IOutboundSocket socket, ReadOnlySpan<byte> message)
    {
        if (message.Length != 1 || message[0] != WireNames.Ping)
        {
            return false;
        }

        socket.TryEnqueue(ServerFrames.Pong);
        return true;
    }

    private async ValueTask AwaitHandlerAsync(ValueTask pending, SocketInvocation invocation, byte[]? flattened, long started, Activity? activity)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // See ProcessAsync.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(invocation, ex);
        }
        finally
        {
            Finish(invocation, flattened, started, activity);
        }
    }

    private ValueTask Dispatch(ISocketDispatcher endpoint, SocketInvocation invocation)
    {
        var type = invocation.Type;
        invocation.Routed = true;
        if (type.SequenceEqual(WireNames.Utf8.RoomJoin))
        {
            return JoinAsync(invocation);
        }

        if (type.SequenceEqual(WireNames.Utf8.RoomLeave))
        {
            return LeaveAsync(invocation);
        }

        if (type.SequenceEqual(WireNames.Utf8.RoomPresence))
        {
            return PresenceAsync(invocation);
        }

        if (type.SequenceEqual(WireNames.Utf8.Heartbeat))
        {
            invocation.ReplyWith(time.GetUtcNow().ToUnixTimeMilliseconds(), static (writer, now) =>
            {
                writer.WriteStartObject();
                writer.WriteNumber(WireNames.Members.Timestamp, now);
                writer.WriteEndObject();
            });
            return default;
        }

        // Message guards run inside the endpoint's table, where the generator (or a hand-written endpoint) put them.
        if (endpoint.TryDispatch(type, invocation, out var completion))
        {
            return completion;
        }

        invocation.Routed = false;
        invocation.ReplyError(SocketErrorCodes.UnknownType, $"No route handles '{invocation.TypeName}'.");
        return default;
    }

    private static async ValueTask JoinAsync(SocketInvocation invocation)
    {
        if (!TryReadRoom(invocation, out var room) || !TryReadRecover(invocation, out var recover, out var asked))
        {
            return;
        }

        var allowed = false;
        var context = invocation.Context;
        foreach (var rule in context.Services.GetServices<ISocketRoomRule>())
        {
            if (await rule.CanJoinAsync(context, room).ConfigureAwait(false))
            {
                allowed = true;
                break;
            }
        }

        if (!allowed)
        {
            invocation.ReplyError(SocketErrorCodes.Forbidden, $"No room rule allows joining '{room}'.");
            return;
        }

        var histories = context.Services.GetService<PubSub.TopicHistories>();
        var recoverable = histories is { Any: true } && histories.Find(room) is not null;
        if (asked && !recoverable)
        {
            invocation.ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", [new SocketValidationError("$.data.recover", $"'{room}' keeps no history to recover from.")]);
            return;
        }

        if (!recoverable)
        {
            await context.SubscribeAsync(room, context.Aborted).ConfigureAwait(false);
            ReplyRoom(invocation, room, joined: true);
            return;
        }

        // The reply is queued before the missed pushes, which come before any newer push of the room.
        await context.SubscribeAsync(room, recover, result => invocation.ReplyWith((room, result), static (writer, state) =>
        {
            writer.WriteStartObject();
            writer.WriteString(WireNames.Members.Room, state.room);
            writer.WriteBoolean(WireNames.Members.Joined, true);
            writer.WriteBoolean("recovered"u8, state.result.Recovered);
            writer.WriteString("epoch"u8, state.result.Position!.Value.Epoch);
            writer.WriteNumber("offset"u8, state.result.Position!.Value.Offset);
            writer.WriteEndObject();
        }), context.Aborted).ConfigureAwait(false);
    }

    /// <summary>Reads the optional <c>recover</c> member: <c>{"epoch": string, "offset": integer &gt;= 0}</c>.</summary>
    private static bool TryReadRecover(SocketInvocation invocation, out SocketPosition? recover, out bool asked)
    {
        recover = null;
        asked = false;
        var reader = new Utf8JsonReader(invocation.Data.Span);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("recover"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            asked = true;
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return Invalid(invocation, "$.data.recover", "An object with 'epoch' and 'offset' is expected.");
            }

            string? epoch = null;
            long? offset = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "epoch")
                {
                    if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 and <= 64 } text)
                    {
                        return Invalid(invocation, "$.data.recover.epoch", "'epoch' must be a string of 1 to 64 characters.");
                    }

                    epoch = text;
                }
                else if (name == "offset")
                {
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0)
                    {
                        return Invalid(invocation, "$.data.recover.offset", "'offset' must be an integer of 0 or more.");
                    }

                    offset = value;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (epoch is null || offset is null)
            {
                return Invalid(invocation, epoch is null ? "$.data.recover.epoch" : "$.data.recover.offset", "Both 'epoch' and 'offset' are required.");
            }

            recover = new SocketPosition(epoch, offset.Value);
        }

        return true;
    }

    private static bool Invalid(SocketInvocation invocation, string path, string problem)
    {
        invocation.ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", [new SocketValidationError(path, problem)]);
        return false;
    }

    private static async ValueTask LeaveAsync(SocketInvocation invocation)
    {
        if (!TryReadRoom(invocation, out var room))
        {
            return;
        }

        await invocation.Context.UnsubscribeAsync(room, invocation.Aborted).ConfigureAwait(false);
        ReplyRoom(invocation, room, joined: false);
    }

    /// <summary><c>room.presence</c>: the members of a room, for a socket that is one of them (<c>forbidden</c> otherwise).</summary>
    private static async ValueTask PresenceAsync(SocketInvocation invocation)
    {
        if (!TryReadRoom(invocation, out var room))
        {
            return;
        }

        var presence = await invocation.Context.GetPresenceAsync(room, invocation.Aborted).ConfigureAwait(false);
        var socketId = invocation.Context.SocketId;
        if (!presence.Members.Any(m => string.Equals(m.SocketId, socketId, StringComparison.Ordinal)))
        {
            invocation.ReplyError(SocketErrorCodes.Forbidden, $"Join '{room}' first: only its members may see who is in it.");
            return;
        }

        invocation.ReplyWith(presence, static (writer, p) =>
        {
            writer.WriteStartObject();
            writer.WriteString(WireNames.Members.Room, p.Topic);
            PubSub.PresenceEvents.WriteMembers(writer, WireNames.Members.MemberList, p.Members);
            writer.WriteNumber(WireNames.Members.Count, p.Count);
            writer.WriteEndObject();
        });
    }

    private static void ReplyRoom(SocketInvocation invocation, string room, bool joined) =>
        invocation.ReplyWith((room, joined), static (writer, state) => EnvelopeWriter.WriteRoomReplyData(writer, state.room, state.joined));

    private static bool TryReadRoom(SocketInvocation invocation, out string room)
    {
        room = string.Empty;
        string? problem = null;
        var reader = new Utf8JsonReader(invocation.Data.Span);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            invocation.ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", [new SocketValidationError("$.data", "An object with a 'room' member is expected.")]);
            return false;
        }

        string? found = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isRoom = reader.ValueTextEquals(WireNames.Members.Room);
            reader.Read();
            if (isRoom)
            {
                found = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                problem = found is null ? "'room' must be a string." : null;
            }

            reader.Skip();
        }

        if (found is null)
        {
            problem ??= "A room is required.";
        }
        else if (!SocketNames.IsValidTopic(found))
        {
            problem = "A room is " + SocketNames.TopicRule + ".";
        }

        if (problem is not null)
        {
            invocation.ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", [new SocketValidationError("$.data.room", problem)]);
            return false;
        }

        if (SocketNames.IsReservedTopic(found))
        {
            invocation.ReplyError(SocketErrorCodes.Forbidden, "Rooms beginning with '__' are reserved for the server.");
            return false;
        }

        room = found!;
        return true;
    }

    private void Fail(SocketInvocation invocation, Exception exception)
    {
        if (exception is OperationCanceledException && invocation.Aborted.IsCancellationRequested)
        {
            // The socket is closing: nobody is left to answer.
            return;
        }

        if (exception is PubSub.InvalidSocketArgumentException invalid)
        {
            // A framework argument built from the client's data: the client's mistake, answered as such.
            if (!invocation.HasReplied)
            {
                invocation.ReplyError(SocketErrorCodes.ValidationFailed, "The message data is not valid.", [new SocketValidationError("$.data", invalid.Reason)]);
            }

            return;
        }

        if (exception is SocketUnavailableException unavailable)
        {
            // A dependency failed or overran its time: the client is told what did and did not happen, and may try
            // again. Logged once per route and interval like other failures, without the stack trace.
            if (_failures.ShouldLog("unavailable:" + invocation.TypeName, out var skipped))
            {
                SocketLog.DependencyUnavailable(logger, invocation.Context.SocketId, invocation.TypeName, SocketLog.ClientText(unavailable.Message), skipped);
            }

            if (!invocation.HasReplied)
            {
                invocation.ReplyError(SocketErrorCodes.Unavailable, unavailable.Message);
            }

            return;
        }

        if (exception is SocketLimitExceededException limit)
        {
            // The client asked for more than it may have: its answer, not a server failure.
            if (!invocation.HasReplied)
            {
                invocation.ReplyError(SocketErrorCodes.RateLimited, limit.Message);
            }

            return;
        }

        // The first few failures of a route per minute with their stack traces, then a count: a client that can make a
        // handler throw cannot flood the log.
        if (_failures.ShouldLog(invocation.TypeName, out var suppressed))
        {
            if (suppressed > 0)
            {
                SocketLog.HandlerFailuresSuppressed(logger, invocation.TypeName, suppressed);
            }

            SocketLog.HandlerFailed(logger, invocation.Context.SocketId, invocation.TypeName, exception);
        }

        if (!invocation.HasReplied)
        {
            invocation.ReplyError(SocketErrorCodes.InternalError, "The server could not handle the message.");
        }
    }

    private void Finish(SocketInvocation invocation, byte[]? flattened, long started, Activity? activity)
    {
        Record(invocation, started);
        if (activity is not null)
        {
            SocketTracing.StopMessage(activity, invocation.Routed ? invocation.TypeName : SocketTracing.UnknownRoute, invocation.ErrorCode);
        }

        invocation.Clear();
        if (flattened is not null)
        {
            ArrayPool<byte>.Shared.Return(flattened);
        }
    }

    private static ReadOnlyMemory<byte> CorrelationId(ReadOnlyMemory<byte> message, in EnvelopeParts parts) =>
        parts.CorrelationLength == 0 ? default : message.Slice(parts.CorrelationStart, parts.CorrelationLength);
}

/// <summary>
/// The message budgets' settings: the connection's own (null when off) and the close factor every budget shares.
/// Registered by <c>AddOriSockets</c> from its options; generated route budgets read the close factor from it.
/// </summary>
internal sealed record MessageBudget(double PermitsPerSecond, int Burst, int CloseFactor)
{
    /// <summary>Whether connections have a budget of their own (a rate of 0 turns it off; route budgets still apply).</summary>
    public bool IsOn => PermitsPerSecond > 0;
}

/// <summary>Where the pipeline reports each message it handled (the runtime's metrics).</summary>
internal interface IMessageMetrics
{
    /// <summary>Whether anything listens (the clock is read only then).</summary>
    bool MessagesEnabled { get; }

    /// <summary>One message handled: its type, whether it is a known route, its error code (null: ok), whether it was answered, when it arrived.</summary>
    void Handled(ReadOnlySpan<byte> type, bool routed, string? errorCode, bool replied, long started);
}
