using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>Builds the frames the server sends (protocol section 3): replies, error replies and pushes.</summary>
internal static class EnvelopeWriter
{
    public static SocketFrame Reply<TState>(ReadOnlySpan<byte> type, ReadOnlySpan<byte> rawCorrelationId, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            var writer = builder.Writer;
            writer.WriteStartObject();
            writer.WriteString("type"u8, type);
            WriteCorrelationId(writer, rawCorrelationId);
            writer.WritePropertyName("data"u8);
            writeData(writer, state);
            writer.WriteEndObject();
        }
        catch
        {
            builder.Return();
            throw;
        }

        return builder.ToFrameAndReturn();
    }

    public static SocketFrame Error(ReadOnlySpan<byte> type, ReadOnlySpan<byte> rawCorrelationId, string code, string message, IReadOnlyList<SocketValidationError>? details = null)
    {
        var builder = FrameBuilder.Rent();
        var writer = builder.Writer;
        writer.WriteStartObject();
        writer.WriteString("type"u8, type.IsEmpty ? "error"u8 : type);
        WriteCorrelationId(writer, rawCorrelationId);
        writer.WriteString("error"u8, code);
        writer.WriteString("message"u8, message);
        if (details is { Count: > 0 })
        {
            writer.WriteStartArray("details"u8);
            foreach (var detail in details)
            {
                writer.WriteStartObject();
                writer.WriteString("path"u8, detail.Path);
                writer.WriteString("message"u8, detail.Message);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        return builder.ToFrameAndReturn();
    }

    public static SocketFrame Push<TState>(string name, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            var writer = builder.Writer;
            writer.WriteStartObject();
            writer.WriteString("name"u8, name);
            writer.WritePropertyName("data"u8);
            writeData(writer, state);
            writer.WriteNumber("timestamp"u8, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            writer.WriteEndObject();
        }
        catch
        {
            builder.Return();
            throw;
        }

        return builder.ToFrameAndReturn();
    }

    public static SocketFrame Ready(string socketId) =>
        Push("ori.ready", socketId, static (writer, id) =>
        {
            writer.WriteStartObject();
            writer.WriteString("socketId"u8, id);
            writer.WriteEndObject();
        });

    private static void WriteCorrelationId(Utf8JsonWriter writer, ReadOnlySpan<byte> rawCorrelationId)
    {
        if (!rawCorrelationId.IsEmpty)
        {
            // The client's own JSON string token, quotes and escapes included, echoed byte for byte.
            writer.WritePropertyName("correlationId"u8);
            writer.WriteRawValue(rawCorrelationId, skipInputValidation: true);
        }
    }
}
