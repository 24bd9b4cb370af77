using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>
/// The server's envelopes (protocol section 3) as frames: replies, error replies and pushes, written by
/// the shared <see cref="EnvelopeWriter"/> into a thread-cached <see cref="FrameBuilder"/>.
/// </summary>
internal static class EnvelopeFrames
{
    public static SocketFrame Reply<TState>(ReadOnlySpan<byte> type, ReadOnlySpan<byte> rawCorrelationId, TState state, Action<Utf8JsonWriter, TState> writeData)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            EnvelopeWriter.WriteReply(builder.Writer, type, rawCorrelationId, state, writeData);
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
        EnvelopeWriter.WriteError(builder.Writer, type, rawCorrelationId, code, message, details);
        return builder.ToFrameAndReturn();
    }

    public static SocketFrame Push<TState>(string name, TState state, Action<Utf8JsonWriter, TState> writeData, long timestamp)
    {
        var builder = FrameBuilder.Rent();
        try
        {
            EnvelopeWriter.WritePush(builder.Writer, name, state, writeData, timestamp);
        }
        catch
        {
            builder.Return();
            throw;
        }

        return builder.ToFrameAndReturn();
    }

    public static SocketFrame Draining(long reconnectAfterMs, long timestamp) =>
        Push(WireNames.Draining, reconnectAfterMs, static (writer, delay) =>
        {
            writer.WriteStartObject();
            writer.WriteNumber(WireNames.Members.ReconnectAfterMs, delay);
            writer.WriteEndObject();
        }, timestamp);

    public static SocketFrame Ready(string socketId, long timestamp) =>
        Push(WireNames.Ready, socketId, static (writer, id) => EnvelopeWriter.WriteReadyData(writer, id), timestamp);
}
