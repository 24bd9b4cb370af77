using System.Text.Json;

namespace Ori.Sockets.Protocol;

/// <summary>What the server sent, as a client reads it (protocol section 3): a push (name, data), a reply (type, correlation id, data) or an error reply.</summary>
internal readonly record struct ServerEnvelope(string? Name, string? CorrelationId, string? ErrorCode, string? ErrorMessage, IReadOnlyList<SocketValidationError> Details, ReadOnlyMemory<byte> Data)
{
    /// <summary>The topic of a push on a recoverable topic (protocol section 8), with <see cref="Position"/>.</summary>
    public string? Topic { get; init; }

    /// <summary>The position of a push on a recoverable topic.</summary>
    public SocketPosition? Position { get; init; }

    public static bool TryParse(ReadOnlyMemory<byte> message, out ServerEnvelope envelope)
    {
        envelope = default;
        string? name = null, correlationId = null, error = null, errorMessage = null, topic = null, epoch = null;
        long? offset = null;
        List<SocketValidationError>? details = null;
        var data = ReadOnlyMemory<byte>.Empty;
        try
        {
            var reader = new Utf8JsonReader(message.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(WireNames.Members.Name))
                {
                    reader.Read();
                    name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals(WireNames.Members.CorrelationId))
                {
                    reader.Read();
                    correlationId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals(WireNames.Members.Error))
                {
                    reader.Read();
                    error = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals(WireNames.Members.Message))
                {
                    reader.Read();
                    errorMessage = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals(WireNames.Members.Data))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    data = message[start..(int)reader.BytesConsumed];
                }
                else if (reader.ValueTextEquals("topic"u8))
                {
                    reader.Read();
                    topic = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("epoch"u8))
                {
                    reader.Read();
                    epoch = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("offset"u8))
                {
                    reader.Read();
                    offset = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value > 0 ? value : null;
                }
                else if (reader.ValueTextEquals(WireNames.Members.Details))
                {
                    reader.Read();
                    details = ReadDetails(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        envelope = new ServerEnvelope(name, correlationId, error, errorMessage, (IReadOnlyList<SocketValidationError>?)details ?? [], data)
        {
            Topic = name is not null && epoch is not null && offset is not null ? topic : null,
            Position = name is not null && topic is not null && epoch is not null && offset is { } at ? new SocketPosition(epoch, at) : null,
        };
        return true;
    }

    public static bool TryReadSocketId(ReadOnlySpan<byte> data, out string socketId)
    {
        socketId = string.Empty;
        var reader = new Utf8JsonReader(data);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isId = reader.ValueTextEquals(WireNames.Members.SocketId);
            reader.Read();
            if (isId && reader.TokenType == JsonTokenType.String)
            {
                socketId = reader.GetString()!;
                return true;
            }

            reader.Skip();
        }

        return false;
    }

    private static List<SocketValidationError> ReadDetails(ref Utf8JsonReader reader)
    {
        var details = new List<SocketValidationError>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return details;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            string path = "$", message = string.Empty;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isPath = reader.ValueTextEquals(WireNames.Members.Path);
                var isMessage = reader.ValueTextEquals(WireNames.Members.Message);
                reader.Read();
                if (isPath && reader.TokenType == JsonTokenType.String)
                {
                    path = reader.GetString()!;
                }
                else if (isMessage && reader.TokenType == JsonTokenType.String)
                {
                    message = reader.GetString()!;
                }
                else
                {
                    reader.Skip();
                }
            }

            details.Add(new SocketValidationError(path, message));
        }

        return details;
    }
}
