using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>Where the parts of one client envelope are (protocol section 2).</summary>
internal struct EnvelopeParts
{
    /// <summary>Length of the unescaped type, copied into the caller's type buffer; 0 when none was read.</summary>
    public int TypeLength;

    /// <summary>The correlation id's JSON string token (quotes included) within the message; length 0 when absent.</summary>
    public int CorrelationStart;
    public int CorrelationLength;

    /// <summary>The raw JSON value of <c>data</c>, when the envelope has that member.</summary>
    public int DataStart;
    public int DataLength;
    public bool HasData;

    /// <summary>
    /// The raw text of the <c>traceparent</c> string (quotes excluded) within the message; length 0 when absent, not a
    /// string, escaped or longer than a trace context: a malformed one is ignored, as W3C Trace Context asks.
    /// </summary>
    public int TraceparentStart;
    public int TraceparentLength;

    /// <summary>Members other than type, data, correlationId and traceparent: the flattened form's data.</summary>
    public bool HasOtherMembers;
}

/// <summary>
/// Reads a client envelope (protocol section 2) with <see cref="Utf8JsonReader"/>. Nothing is allocated for
/// a valid envelope: the type is copied into a fixed buffer and <c>data</c> stays a slice of the message.
/// A refusal names its real reason, and keeps the type and correlation id when they were read before it,
/// so that the error reply reaches the request that caused it.
/// </summary>
internal static class EnvelopeReader
{
    public const string NotAnObject = "A message must be a JSON object with a 'type' member, or the heartbeat '2'.";
    public const string MissingType = "The envelope has no 'type' member.";
    public const string InvalidType = "'type' must be a string of " + SocketNames.TypeRule + ".";
    public const string InvalidCorrelationId = "'correlationId' must be a string of at most 128 characters.";
    public const string DuplicateMember = "The envelope repeats a member.";
    public const string TrailingContent = "The message has content after its JSON object.";

    /// <summary>The longest <c>traceparent</c> read: version 00 is 55 characters; later versions may append fields.</summary>
    public const int MaxTraceparentLength = 256;

    /// <summary>The refusal for a message nested deeper than <paramref name="maxDepth"/>.</summary>
    public static string TooDeep(int maxDepth) =>
        string.Create(CultureInfo.InvariantCulture, $"The message nests deeper than the limit of {maxDepth} levels.");

    /// <summary>The refusal for a message that is not valid JSON where the reader stopped (zero-based line and byte in it).</summary>
    public static string InvalidJson(long line, long byteInLine) => line == 0
        ? string.Create(CultureInfo.InvariantCulture, $"The message is not valid JSON (byte {byteInLine}).")
        : string.Create(CultureInfo.InvariantCulture, $"The message is not valid JSON (line {line + 1}, byte {byteInLine}).");

    /// <summary>
    /// Parses <paramref name="message"/>. On failure, <paramref name="error"/> says why for the client, and
    /// <paramref name="parts"/> keeps the type and the correlation id if they had been read.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, int maxDepth, Span<byte> typeBuffer, out EnvelopeParts parts, out string? error)
    {
        parts = default;
        error = null;
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth });
        var objectEnded = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = NotAnObject;
                return false;
            }

            var sawType = false;
            var sawCorrelation = false;
            var sawTrace = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(WireNames.Members.Type))
                {
                    reader.Read();
                    if (sawType)
                    {
                        error = DuplicateMember;
                        return false;
                    }

                    if (reader.TokenType != JsonTokenType.String || !TryCopyType(ref reader, typeBuffer, out parts.TypeLength))
                    {
                        parts.TypeLength = 0;
                        error = InvalidType;
                        return false;
                    }

                    sawType = true;
                }
                else if (reader.ValueTextEquals(WireNames.Members.CorrelationId))
                {
                    reader.Read();
                    if (sawCorrelation)
                    {
                        error = DuplicateMember;
                        return false;
                    }

                    sawCorrelation = true;
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        continue;
                    }

                    if (reader.TokenType != JsonTokenType.String || CharLength(ref reader) > SocketNames.MaxCorrelationIdLength)
                    {
                        error = InvalidCorrelationId;
                        return false;
                    }

                    // For a string token, TokenStartIndex is its opening quote and ValueSpan its raw (escaped) text.
                    parts.CorrelationStart = (int)reader.TokenStartIndex;
                    parts.CorrelationLength = reader.ValueSpan.Length + 2;
                }
                else if (reader.ValueTextEquals(WireNames.Members.Traceparent))
                {
                    reader.Read();
                    if (sawTrace)
                    {
                        error = DuplicateMember;
                        return false;
                    }

                    sawTrace = true;
                    if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && reader.ValueSpan.Length <= MaxTraceparentLength)
                    {
                        parts.TraceparentStart = (int)reader.TokenStartIndex + 1;
                        parts.TraceparentLength = reader.ValueSpan.Length;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals(WireNames.Members.Data))
                {
                    reader.Read();
                    if (parts.HasData)
                    {
                        error = DuplicateMember;
                        return false;
                    }

                    parts.HasData = true;
                    parts.DataStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    parts.DataLength = (int)reader.BytesConsumed - parts.DataStart;
                }
                else
                {
                    parts.HasOtherMembers = true;
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the object other than white space makes Read throw.
            objectEnded = true;
            if (reader.Read())
            {
                error = TrailingContent;
                return false;
            }

            if (!sawType)
            {
                error = MissingType;
                return false;
            }

            return true;
        }
        catch (JsonException ex)
        {
            // The type and the correlation id read before the fault were whole, valid tokens: they stay,
            // so that the reply pairs with the request. The data does not.
            parts.HasData = false;
            parts.HasOtherMembers = false;
            error = objectEnded ? TrailingContent
                : IsDepthFault(message, maxDepth, reader.BytesConsumed) ? TooDeep(maxDepth)
                : InvalidJson(ex.LineNumber ?? 0, ex.BytePositionInLine ?? reader.BytesConsumed);
            return false;
        }
    }

    /// <summary>
    /// Writes the flattened form's data: the envelope object without its <c>type</c>,
    /// <c>correlationId</c> and <c>traceparent</c> members, copied as raw member text. Returns the number of bytes written;
    /// <paramref name="destination"/> must be at least as long as <paramref name="message"/>. The
    /// message must have been accepted by <see cref="TryRead"/>.
    /// </summary>
    public static int WriteFlattenedData(ReadOnlySpan<byte> message, int maxDepth, Span<byte> destination)
    {
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth });
        reader.Read();
        var written = 0;
        destination[written++] = (byte)'{';
        var first = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var memberStart = (int)reader.TokenStartIndex;
            var skip = reader.ValueTextEquals(WireNames.Members.Type) || reader.ValueTextEquals(WireNames.Members.CorrelationId)
                || reader.ValueTextEquals(WireNames.Members.Traceparent);
            reader.Read();
            reader.Skip();
            if (skip)
            {
                continue;
            }

            if (!first)
            {
                destination[written++] = (byte)',';
            }

            first = false;
            var member = message[memberStart..(int)reader.BytesConsumed];
            member.CopyTo(destination[written..]);
            written += member.Length;
        }

        destination[written++] = (byte)'}';
        return written;
    }

    /// <summary>
    /// Whether the reader failed because of the depth limit: a reader allowed one more level gets past the
    /// point where the first one stopped. Runs only for refused messages.
    /// </summary>
    private static bool IsDepthFault(ReadOnlySpan<byte> message, int maxDepth, long failedAt)
    {
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth + 1 });
        try
        {
            while (reader.Read())
            {
                if (reader.BytesConsumed > failedAt)
                {
                    return true;
                }
            }

            return reader.BytesConsumed > failedAt;
        }
        catch (JsonException)
        {
            return reader.BytesConsumed > failedAt;
        }
    }

    private static bool TryCopyType(ref Utf8JsonReader reader, Span<byte> typeBuffer, out int length)
    {
        length = 0;
        var raw = reader.ValueSpan;
        if (!reader.ValueIsEscaped)
        {
            if (raw.Length > typeBuffer.Length)
            {
                return false;
            }

            raw.CopyTo(typeBuffer);
            length = raw.Length;
        }
        else
        {
            // Unescaped text is never longer than its escaped form; anything over 6 bytes per
            // character of the limit cannot unescape to a valid type.
            if (raw.Length > SocketNames.MaxTypeLength * 6)
            {
                return false;
            }

            Span<byte> unescaped = stackalloc byte[SocketNames.MaxTypeLength * 6];
            length = reader.CopyString(unescaped);
            if (length > typeBuffer.Length)
            {
                return false;
            }

            unescaped[..length].CopyTo(typeBuffer);
        }

        return SocketNames.IsValidType(typeBuffer[..length]);
    }

    private static int CharLength(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan;
        if (!reader.ValueIsEscaped)
        {
            return Encoding.UTF8.GetCharCount(raw);
        }

        if (raw.Length > SocketNames.MaxCorrelationIdLength * 12)
        {
            return int.MaxValue;
        }

        Span<char> chars = stackalloc char[raw.Length];
        return reader.CopyString(chars);
    }
}
