using System.Text.Json;

namespace Ori.Sockets.Tests.Infrastructure;

// Hand-written messages and serializers, shaped like what the source generator will emit, so the
// runtime can be tested before the generator exists.

public sealed record EchoRequest(string Text) : ISocketMessage<EchoRequest>, ISocketRequest<EchoReply>
{
    public static string MessageName => "echo";

    public static string JsonSchema => """{"type":"object","properties":{"text":{"type":"string","maxLength":100}},"required":["text"]}""";

    public static SocketSerializer<EchoRequest> Serializer { get; } = new EchoRequestSerializer();

    private sealed class EchoRequestSerializer : SocketSerializer<EchoRequest>
    {
        public override void Write(Utf8JsonWriter writer, EchoRequest value)
        {
            writer.WriteStartObject();
            writer.WriteString("text", value.Text);
            writer.WriteEndObject();
        }

        public override EchoRequest? Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                validation.AddError("An object is expected.");
                reader.Skip();
                return null;
            }

            string? text = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isText = reader.ValueTextEquals("text"u8);
                reader.Read();
                if (isText)
                {
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        text = reader.GetString();
                    }
                    else
                    {
                        validation.AddError("text", "Must be a string.");
                    }
                }

                reader.Skip();
            }

            if (text is null)
            {
                if (!validation.HasErrors)
                {
                    validation.AddError("text", "Is required.");
                }
            }
            else if (text.Length is < 1 or > 100)
            {
                validation.AddError("text", "Must be 1 to 100 characters.");
            }

            return validation.HasErrors ? null : new EchoRequest(text!);
        }
    }
}

public sealed record EchoReply(string Text)
{
    public static SocketSerializer<EchoReply> Serializer { get; } = new EchoReplySerializer();

    private sealed class EchoReplySerializer : SocketSerializer<EchoReply>
    {
        public override void Write(Utf8JsonWriter writer, EchoReply value)
        {
            writer.WriteStartObject();
            writer.WriteString("text", value.Text);
            writer.WriteEndObject();
        }

        public override EchoReply? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            throw new NotSupportedException("Replies are only written in these tests.");
    }
}

public sealed record Announcement(string Title, int Level) : ISocketMessage<Announcement>
{
    public static string MessageName => "announcement";

    public static string JsonSchema => """{"type":"object","properties":{"title":{"type":"string"},"level":{"type":"integer"}},"required":["title","level"]}""";

    public static SocketSerializer<Announcement> Serializer { get; } = new AnnouncementSerializer();

    private sealed class AnnouncementSerializer : SocketSerializer<Announcement>
    {
        public override void Write(Utf8JsonWriter writer, Announcement value)
        {
            writer.WriteStartObject();
            writer.WriteString("title", value.Title);
            writer.WriteNumber("level", value.Level);
            writer.WriteEndObject();
        }

        public override Announcement? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            throw new NotSupportedException("Pushes are only written in these tests.");

        public override void Validate(Announcement value, SocketValidationContext validation)
        {
            if (string.IsNullOrEmpty(value.Title))
            {
                validation.AddError("title", "Is required.");
            }

            if (value.Level is < 1 or > 5)
            {
                validation.AddError("level", "Must be between 1 and 5.");
            }
        }
    }
}

/// <summary>A JSON object written by a callback, for replies whose shape is a test's own business.</summary>
public sealed class RawReply(Action<Utf8JsonWriter> write)
{
    public static SocketSerializer<RawReply> Serializer { get; } = new RawReplySerializer();

    private sealed class RawReplySerializer : SocketSerializer<RawReply>
    {
        public override void Write(Utf8JsonWriter writer, RawReply value) => value._write(writer);

        public override RawReply? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            throw new NotSupportedException();
    }

    private readonly Action<Utf8JsonWriter> _write = write;
}
