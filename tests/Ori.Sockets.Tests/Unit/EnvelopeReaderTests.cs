using System.Text;
using Ori.Sockets.Protocol;

namespace Ori.Sockets.Tests.Unit;

public sealed class EnvelopeReaderTests
{
    [Fact]
    public void Reads_type_correlation_and_data_as_slices_of_the_message()
    {
        var message = """{"type":"a.b","correlationId":"c-1","data":{"x":[1,2]}}"""u8.ToArray();
        var type = new byte[128];
        Assert.True(EnvelopeReader.TryRead(message, 32, type, out var parts, out var error));
        Assert.Null(error);
        Assert.Equal("a.b", Encoding.UTF8.GetString(type, 0, parts.TypeLength));
        Assert.Equal("\"c-1\"", Encoding.UTF8.GetString(message, parts.CorrelationStart, parts.CorrelationLength));
        Assert.True(parts.HasData);
        Assert.Equal("""{"x":[1,2]}""", Encoding.UTF8.GetString(message, parts.DataStart, parts.DataLength));
    }

    [Theory]
    [InlineData("""{"type":"t","data":5}""", "5")]
    [InlineData("""{"type":"t","data":"s"}""", "\"s\"")]
    [InlineData("""{"type":"t","data":null}""", "null")]
    [InlineData("""{ "data" : [ ] , "type":"t"}""", "[ ]")]
    public void Data_may_be_any_json_value(string envelope, string data)
    {
        var message = Encoding.UTF8.GetBytes(envelope);
        Assert.True(EnvelopeReader.TryRead(message, 32, new byte[128], out var parts, out _));
        Assert.Equal(data, Encoding.UTF8.GetString(message, parts.DataStart, parts.DataLength));
    }

    [Fact]
    public void A_traceparent_is_read_as_raw_text_and_left_out_of_the_flattened_data()
    {
        var message = """{"type":"t","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","room":"r"}"""u8.ToArray();
        Assert.True(EnvelopeReader.TryRead(message, 32, new byte[128], out var parts, out _));
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Encoding.UTF8.GetString(message, parts.TraceparentStart, parts.TraceparentLength));
        Assert.True(parts.HasOtherMembers);
        var destination = new byte[message.Length];
        var length = EnvelopeReader.WriteFlattenedData(message, 32, destination);
        Assert.Equal("""{"room":"r"}""", Encoding.UTF8.GetString(destination, 0, length));
    }

    [Theory]
    [InlineData("""{"type":"t","traceparent":42}""")]
    [InlineData("""{"type":"t","traceparent":{"a":1}}""")]
    [InlineData("""{"type":"t","traceparent":"00-\u0030"}""")]
    public void A_traceparent_that_is_not_a_plain_string_is_ignored_not_refused(string envelope)
    {
        Assert.True(EnvelopeReader.TryRead(Encoding.UTF8.GetBytes(envelope), 32, new byte[128], out var parts, out var error));
        Assert.Null(error);
        Assert.Equal(0, parts.TraceparentLength);
        Assert.False(parts.HasOtherMembers);
    }

    [Fact]
    public void A_repeated_traceparent_is_a_duplicate_member()
    {
        var message = """{"type":"t","traceparent":"a","traceparent":"b"}"""u8.ToArray();
        Assert.False(EnvelopeReader.TryRead(message, 32, new byte[128], out _, out var error));
        Assert.Equal(EnvelopeReader.DuplicateMember, error);
    }

    [Fact]
    public void Flattened_data_drops_type_and_correlation_id_and_keeps_the_rest_verbatim()
    {
        var message = """{"room":"r:1","type":"room.join","correlationId":"x","extra":{"a":[1, 2]}}"""u8.ToArray();
        Assert.True(EnvelopeReader.TryRead(message, 32, new byte[128], out var parts, out _));
        Assert.False(parts.HasData);
        Assert.True(parts.HasOtherMembers);
        var destination = new byte[message.Length];
        var length = EnvelopeReader.WriteFlattenedData(message, 32, destination);
        Assert.Equal("""{"room":"r:1","extra":{"a":[1, 2]}}""", Encoding.UTF8.GetString(destination, 0, length));
    }

    [Fact]
    public void Null_correlation_id_counts_as_absent()
    {
        Assert.True(EnvelopeReader.TryRead("""{"type":"t","correlationId":null}"""u8, 32, new byte[128], out var parts, out _));
        Assert.Equal(0, parts.CorrelationLength);
    }

    [Theory]
    [InlineData("""{"type":"t","correlationId":5}""", EnvelopeReader.InvalidCorrelationId)]
    [InlineData("""{"type":"t","data":1,"data":2}""", EnvelopeReader.DuplicateMember)]
    [InlineData("""{"data":1}""", EnvelopeReader.MissingType)]
    [InlineData("""{"type":null}""", EnvelopeReader.InvalidType)]
    [InlineData("""{"type":"t",}""", "The message is not valid JSON (byte 12).")]
    [InlineData("""{"type":"t"}{}""", EnvelopeReader.TrailingContent)]
    [InlineData("""[1]""", EnvelopeReader.NotAnObject)]
    [InlineData("""{"type":"t","data":[[[[1]]]]}""", "The message nests deeper than the limit of 4 levels.")]
    [InlineData("""{"type":"t","data":[[[1]]]}""", null)]
    [InlineData("""{"type":"t","data":[[[1}}}""", "The message is not valid JSON (byte 23).")]
    public void Refuses_with_its_real_reason(string envelope, string? reason)
    {
        Assert.Equal(reason is null, EnvelopeReader.TryRead(Encoding.UTF8.GetBytes(envelope), 4, new byte[128], out _, out var error));
        Assert.Equal(reason, error);
    }

    [Fact]
    public void A_refusal_keeps_the_type_and_correlation_id_read_before_it()
    {
        var message = """{"type":"a.b","correlationId":"c-1","data":[1,}"""u8.ToArray();
        var type = new byte[128];
        Assert.False(EnvelopeReader.TryRead(message, 32, type, out var parts, out _));
        Assert.Equal("a.b", Encoding.UTF8.GetString(type, 0, parts.TypeLength));
        Assert.Equal("\"c-1\"", Encoding.UTF8.GetString(message, parts.CorrelationStart, parts.CorrelationLength));
        Assert.False(parts.HasData);
    }

    [Fact]
    public void Correlation_id_length_counts_characters_not_bytes()
    {
        var id = new string('é', 128); // 256 bytes of UTF-8, 128 characters
        Assert.True(EnvelopeReader.TryRead(Encoding.UTF8.GetBytes($$"""{"type":"t","correlationId":"{{id}}"}"""), 32, new byte[128], out _, out _));
        var escaped = string.Concat(Enumerable.Repeat("\\u00e9", 129));
        Assert.False(EnvelopeReader.TryRead(Encoding.UTF8.GetBytes($$"""{"type":"t","correlationId":"{{escaped}}"}"""), 32, new byte[128], out _, out _));
    }
}
