using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>
/// Writes one JSON message and turns it into a <see cref="SocketFrame"/>. Builders are cached one per
/// thread (frames are built synchronously), so building a frame allocates only the frame itself.
/// </summary>
internal sealed class FrameBuilder
{
    // A builder that grew past this is dropped rather than kept alive on its thread.
    private const int MaxRetainedCapacity = 256 * 1024;

    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        // The text goes to WebSocket clients, never into HTML, so non-ASCII text stays as UTF-8.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    // t_ marks a thread static, as in the .NET runtime; the s_ rule does not know the attribute.
#pragma warning disable IDE1006
    [ThreadStatic]
    private static FrameBuilder? t_cached;
#pragma warning restore IDE1006

    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    private FrameBuilder() => Writer = new Utf8JsonWriter(_buffer, s_writerOptions);

    public Utf8JsonWriter Writer { get; }

    public static FrameBuilder Rent()
    {
        var builder = t_cached ?? new FrameBuilder();
        t_cached = null;
        return builder;
    }

    /// <summary>Finishes the frame and gives the builder back to its thread's cache.</summary>
    public SocketFrame ToFrameAndReturn()
    {
        Writer.Flush();
        var frame = SocketFrame.Create(Opcode.Text, _buffer.WrittenSpan);
        Return();
        return frame;
    }

    /// <summary>Gives the builder back without building a frame (the writer failed midway).</summary>
    public void Return()
    {
        var keep = _buffer.Capacity <= MaxRetainedCapacity;
        _buffer.ResetWrittenCount();
        Writer.Reset(_buffer);
        if (keep)
        {
            t_cached = this;
        }
    }
}
