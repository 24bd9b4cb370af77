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

    /// <summary>Members other than type, data and correlationId: the flattened form's data.</summary>
    public bool HasOtherMembers;
}

/// <summary>
/// Reads a client envelope with <see cref="Utf8JsonReader"/>. Nothing is allocated for a valid
/// envelope: the type is copied into a fixed buffer and <c>data</c> stays a slice of the message.
/// </summary>
internal static class EnvelopeReader
{
    public const string NotAnObject = "A message must be a JSON object with a 'type' member, or the heartbeat '2'.";
    public const string InvalidType = "'type' must be a string of 1-128 characters of A-Z a-z 0-9 _ . : -.";
    public const string InvalidCorrelationId = "'correlationId' must be a string of at most 128 characters.";
    public const string DuplicateMember = "The envelope repeats a member.";

    /// <summary>Parses <paramref name="message"/>. On failure, <paramref name="error"/> says why for the client.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, int maxDepth, Span<byte> typeBuffer, out EnvelopeParts parts, out string? error)
    {
        parts = default;
        error = null;
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = maxDepth });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = NotAnObject;
                return false;
            }

            var sawType = false;
            var sawCorrelation = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    if (sawType || reader.TokenType != JsonTokenType.String || !TryCopyType(ref reader, typeBuffer, out parts.TypeLength))
                    {
                        parts.TypeLength = 0;
                        error = sawType ? DuplicateMember : InvalidType;
                        return false;
                    }

                    sawType = true;
                }
                else if (reader.ValueTextEquals("correlationId"u8))
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
                else if (reader.ValueTextEquals("data"u8))
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
            if (reader.Read())
            {
                parts = default;
                error = NotAnObject;
                return false;
            }

            if (!sawType)
            {
                error = InvalidType;
                return false;
            }

            return true;
        }
        catch (JsonException)
        {
            // Not JSON as a whole: nothing read from it (type, correlation id) is trusted for the reply.
            parts = default;
            error = NotAnObject;
            return false;
        }
    }

    /// <summary>
    /// Writes the flattened form's data: the envelope object without its <c>type</c> and
    /// <c>correlationId</c> members, copied as raw member text. Returns the number of bytes written;
    /// <paramref name="destination"/> must be at least as long as <paramref name="message"/>.
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
            var skip = reader.ValueTextEquals("type"u8) || reader.ValueTextEquals("correlationId"u8);
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
