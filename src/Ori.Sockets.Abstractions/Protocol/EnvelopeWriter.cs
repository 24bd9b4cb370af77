using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>
/// Writes the envelopes of the protocol (sections 2 and 3) onto a <see cref="Utf8JsonWriter"/>: the client's
/// requests, and the server's replies, error replies and pushes. The server and the .NET client both write
/// through it; where the bytes go (a pooled frame, a client buffer) is the caller's.
/// </summary>
internal static class EnvelopeWriter
{
    /// <summary>A client envelope: <c>{"type","data","correlationId"}</c>.</summary>
    public static void WriteRequest<TState>(Utf8JsonWriter writer, string type, string? correlationId, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Type, type);
        writer.WritePropertyName(WireNames.Members.Data);
        writeData(writer, state);
        if (correlationId is not null)
        {
            writer.WriteString(WireNames.Members.CorrelationId, correlationId);
        }

        writer.WriteEndObject();
    }

    /// <summary>A reply: <c>{"type","correlationId","data"}</c>, the correlation id echoed byte for byte.</summary>
    public static void WriteReply<TState>(Utf8JsonWriter writer, ReadOnlySpan<byte> type, ReadOnlySpan<byte> rawCorrelationId, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Type, type);
        WriteCorrelationId(writer, rawCorrelationId);
        writer.WritePropertyName(WireNames.Members.Data);
        writeData(writer, state);
        writer.WriteEndObject();
    }

    /// <summary>An error reply: <c>{"type","correlationId","error","message","details"}</c>; the type is <c>error</c> when none was read.</summary>
    public static void WriteError(Utf8JsonWriter writer, ReadOnlySpan<byte> type, ReadOnlySpan<byte> rawCorrelationId, string code, string message, IReadOnlyList<SocketValidationError>? details)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Type, type.IsEmpty ? "error"u8 : type);
        WriteCorrelationId(writer, rawCorrelationId);
        writer.WriteString(WireNames.Members.Error, code);
        writer.WriteString(WireNames.Members.Message, message);
        if (details is { Count: > 0 })
        {
            writer.WriteStartArray(WireNames.Members.Details);
            foreach (var detail in details)
            {
                writer.WriteStartObject();
                writer.WriteString(WireNames.Members.Path, detail.Path);
                writer.WriteString(WireNames.Members.Message, detail.Message);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    /// <summary>A push: <c>{"name","data","timestamp"}</c>, the timestamp in Unix milliseconds.</summary>
    public static void WritePush<TState>(Utf8JsonWriter writer, string name, TState state, Action<Utf8JsonWriter, TState> writeData, long timestamp)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Name, name);
        writer.WritePropertyName(WireNames.Members.Data);
        writeData(writer, state);
        writer.WriteNumber(WireNames.Members.Timestamp, timestamp);
        writer.WriteEndObject();
    }

    /// <summary>The data of <c>ori.ready</c>: <c>{"socketId"}</c>.</summary>
    public static void WriteReadyData(Utf8JsonWriter writer, string socketId)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.SocketId, socketId);
        writer.WriteEndObject();
    }

    /// <summary>The data of <c>room.join</c> and <c>room.leave</c>: <c>{"room"}</c>.</summary>
    public static void WriteRoomData(Utf8JsonWriter writer, string room)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Room, room);
        writer.WriteEndObject();
    }

    /// <summary>The data of <c>room.join</c> that asks to recover from a position: <c>{"room","recover":{"epoch","offset"}}</c>.</summary>
    public static void WriteRoomData(Utf8JsonWriter writer, string room, SocketPosition? recover)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Room, room);
        if (recover is { } position)
        {
            writer.WriteStartObject("recover"u8);
            writer.WriteString("epoch"u8, position.Epoch);
            writer.WriteNumber("offset"u8, position.Offset);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    /// <summary>The reply data of <c>room.join</c> and <c>room.leave</c>: <c>{"room","joined"}</c>.</summary>
    public static void WriteRoomReplyData(Utf8JsonWriter writer, string room, bool joined)
    {
        writer.WriteStartObject();
        writer.WriteString(WireNames.Members.Room, room);
        writer.WriteBoolean(WireNames.Members.Joined, joined);
        writer.WriteEndObject();
    }

    private static void WriteCorrelationId(Utf8JsonWriter writer, ReadOnlySpan<byte> rawCorrelationId)
    {
        if (!rawCorrelationId.IsEmpty)
        {
            // The client's own JSON string token, quotes and escapes included, echoed byte for byte.
            writer.WritePropertyName(WireNames.Members.CorrelationId);
            writer.WriteRawValue(rawCorrelationId, skipInputValidation: true);
        }
    }
}
