using System.Text.Json;

namespace Ori.Sockets.Client;

/// <summary>What the server sent: a push (name, data), a reply (type, correlation id, data) or an error reply.</summary>
internal readonly record struct IncomingEnvelope(string? Name, string? CorrelationId, string? ErrorCode, string? ErrorMessage, IReadOnlyList<SocketValidationError> Details, ReadOnlyMemory<byte> Data)
{
    public static bool TryParse(ReadOnlyMemory<byte> message, out IncomingEnvelope envelope)
    {
        envelope = default;
        string? name = null, correlationId = null, error = null, errorMessage = null;
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
                if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("correlationId"u8))
                {
                    reader.Read();
                    correlationId = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    error = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    errorMessage = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    data = message[start..(int)reader.BytesConsumed];
                }
                else if (reader.ValueTextEquals("details"u8))
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

        envelope = new IncomingEnvelope(name, correlationId, error, errorMessage, (IReadOnlyList<SocketValidationError>?)details ?? [], data);
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
            var isId = reader.ValueTextEquals("socketId"u8);
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
                var isPath = reader.ValueTextEquals("path"u8);
                var isMessage = reader.ValueTextEquals("message"u8);
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
