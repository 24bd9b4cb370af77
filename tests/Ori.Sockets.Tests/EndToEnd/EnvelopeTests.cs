using System.Text.Json;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class EnvelopeTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private TestClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = await _server.ConnectAsync();
        await _client.ReadyAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Heartbeat_2_is_answered_with_3()
    {
        await _client.SendAsync("2");
        Assert.Equal("3", await _client.ReceiveAsync());
    }

    [Fact]
    public async Task Reply_echoes_type_correlation_id_and_data()
    {
        var reply = await _client.RequestAsync("echo", new { text = "hello" }, "abc-1");
        Assert.Equal("echo", reply.GetProperty("type").GetString());
        Assert.Equal("abc-1", reply.GetProperty("correlationId").GetString());
        Assert.Equal("hello", reply.GetProperty("data").GetProperty("text").GetString());
        Assert.False(reply.TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Reply_without_correlation_id_has_no_correlation_member()
    {
        var reply = await _client.RequestAsync("echo", new { text = "x" }, correlationId: null);
        Assert.False(reply.TryGetProperty("correlationId", out _));
        Assert.Equal("x", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Correlation_id_with_escapes_is_echoed_as_the_same_string()
    {
        await _client.SendAsync("""{"type":"echo","data":{"text":"a"},"correlationId":"q\"\u00e9\\n"}""");
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("q\"é\\n", reply.GetProperty("correlationId").GetString());
    }

    [Fact]
    public async Task Flattened_form_takes_the_other_members_as_data()
    {
        await _client.SendAsync("""{"text":"flat","type":"echo","correlationId":"f1"}""");
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("f1", reply.GetProperty("correlationId").GetString());
        Assert.Equal("flat", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Escaped_type_is_routed_like_the_plain_name()
    {
        await _client.SendAsync("""{"type":"\u0065cho","data":{"text":"esc"}}""");
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("echo", reply.GetProperty("type").GetString());
        Assert.Equal("esc", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Async_handlers_reply_like_synchronous_ones()
    {
        var reply = await _client.RequestAsync("echo.async", new { text = "later" });
        Assert.Equal("later", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("{}")]
    [InlineData("""{"type":42}""")]
    [InlineData("""{"type":""}""")]
    [InlineData("""{"type":"has space"}""")]
    [InlineData("""{"type":"é"}""")]
    public async Task Invalid_envelope_gets_bad_request_with_type_error(string frame)
    {
        await _client.SendAsync(frame);
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("bad_request", reply.GetProperty("error").GetString());
        Assert.Equal("error", reply.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("""{"type":"echo","correlationId":"k","data":{"text":"a"}} trailing""", "content after its JSON object")]
    [InlineData("""{"type":"echo","correlationId":"k","type":"echo"}""", "repeats a member")]
    [InlineData("""{"type":"echo","correlationId":"k","data":{"text":"a",}}""", "not valid JSON (byte 54)")]
    [InlineData("""{"correlationId":"k","data":{}}""", "no 'type' member")]
    public async Task Refused_envelope_echoes_what_was_read_and_names_the_real_reason(string frame, string reason)
    {
        await _client.SendAsync(frame);
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("bad_request", reply.GetProperty("error").GetString());
        Assert.Equal(frame.StartsWith("{\"type\"", StringComparison.Ordinal) ? "echo" : "error", reply.GetProperty("type").GetString());
        Assert.Equal("k", reply.GetProperty("correlationId").GetString());
        Assert.Contains(reason, reply.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Type_longer_than_128_characters_is_bad_request()
    {
        var ok = new string('a', 128);
        var reply = await _client.RequestAsync(ok);
        Assert.Equal("unknown_type", reply.GetProperty("error").GetString());

        reply = await _client.RequestAsync(new string('a', 129));
        Assert.Equal("bad_request", reply.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Correlation_id_longer_than_128_characters_is_bad_request()
    {
        var reply = await _client.RequestAsync("echo", new { text = "a" }, new string('c', 128));
        Assert.Equal("a", reply.GetProperty("data").GetProperty("text").GetString());

        reply = await _client.RequestAsync("echo", new { text = "a" }, new string('c', 129));
        Assert.Equal("bad_request", reply.GetProperty("error").GetString());
        Assert.Equal("echo", reply.GetProperty("type").GetString());
        Assert.False(reply.TryGetProperty("correlationId", out _));
    }

    [Fact]
    public async Task Json_deeper_than_the_limit_is_bad_request()
    {
        var deep = new string('[', 40) + new string(']', 40);
        await _client.SendAsync($$"""{"type":"echo","correlationId":"d","data":{{deep}}}""");
        var reply = await _client.ReceiveJsonAsync();
        Assert.Equal("bad_request", reply.GetProperty("error").GetString());
        Assert.Equal("echo", reply.GetProperty("type").GetString());
        Assert.Equal("d", reply.GetProperty("correlationId").GetString());
        Assert.Equal("The message nests deeper than the limit of 32 levels.", reply.GetProperty("message").GetString());

        var shallow = new string('[', 10) + new string(']', 10);
        await _client.SendAsync($$"""{"type":"echo","data":{{shallow}},"correlationId":"s"}""");
        reply = await _client.ReceiveJsonAsync();
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Unknown_type_gets_unknown_type_with_the_route_and_correlation_id()
    {
        var reply = await _client.RequestAsync("nope.missing", new { }, "u1");
        Assert.Equal("unknown_type", reply.GetProperty("error").GetString());
        Assert.Equal("nope.missing", reply.GetProperty("type").GetString());
        Assert.Equal("u1", reply.GetProperty("correlationId").GetString());
    }

    [Fact]
    public async Task Invalid_data_gets_validation_failed_with_json_paths()
    {
        var reply = await _client.RequestAsync("echo", new { text = 5 }, "v1");
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("v1", reply.GetProperty("correlationId").GetString());
        var detail = Assert.Single(reply.GetProperty("details").EnumerateArray());
        Assert.Equal("$.data.text", detail.GetProperty("path").GetString());

        reply = await _client.RequestAsync("echo", new { text = new string('x', 101) });
        Assert.Equal("$.data.text", reply.GetProperty("details")[0].GetProperty("path").GetString());

        reply = await _client.RequestAsync("echo");
        Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
        Assert.Equal("$.data.text", reply.GetProperty("details")[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Handler_exception_gets_internal_error_without_its_text_and_is_logged()
    {
        var reply = await _client.RequestAsync("fail", new { }, "e1");
        Assert.Equal("internal_error", reply.GetProperty("error").GetString());
        Assert.Equal("e1", reply.GetProperty("correlationId").GetString());
        Assert.DoesNotContain("secret-detail", reply.GetRawText(), StringComparison.Ordinal);
        Assert.Contains(_server.Logs.Entries, e => e.Exception?.Message == "secret-detail-of-the-failure");

        // The connection is still usable.
        reply = await _client.RequestAsync("echo", new { text = "alive" });
        Assert.Equal("alive", reply.GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Handler_returning_nothing_replies_only_when_a_correlation_id_was_sent()
    {
        var reply = await _client.RequestAsync("notify", new { text = "n1" }, "n");
        Assert.Equal(JsonValueKind.Null, reply.GetProperty("data").ValueKind);
        Assert.Equal("n", reply.GetProperty("correlationId").GetString());

        await _client.SendJsonAsync(new { type = "notify", data = new { text = "n2" } });
        await _client.SendAsync("2");
        // The heartbeat answer comes first: the correlation-less notify got no reply.
        Assert.Equal("3", await _client.ReceiveAsync());
    }

    [Fact]
    public async Task Json_heartbeat_replies_with_a_timestamp()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var reply = await _client.RequestAsync("heartbeat", new { }, "h");
        var timestamp = reply.GetProperty("data").GetProperty("timestamp").GetInt64();
        Assert.InRange(timestamp, before - 1000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1000);
        Assert.Equal("heartbeat", reply.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Frames_of_one_connection_are_handled_in_order()
    {
        await _client.SendJsonAsync(new { type = "slow", data = new { text = "first" } });
        await _client.SendJsonAsync(new { type = "echo", data = new { text = "second" } });
        await _client.SendJsonAsync(new { type = "echo.async", data = new { text = "third" } });
        var texts = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            texts.Add((await _client.ReceiveJsonAsync()).GetProperty("data").GetProperty("text").GetString()!);
        }

        Assert.Equal(["first", "second", "third"], texts);
    }
}
