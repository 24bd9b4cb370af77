using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Hosting;

/// <summary>
/// A Kestrel listener served by Ori.Sockets from the transport up (<c>UseOriSockets</c> on its <c>ListenOptions</c>):
/// it reads the HTTP/1.1 upgrade request itself, builds a short-lived <see cref="HttpContext"/> for it, authenticates
/// it with the default scheme and authorizes it with the endpoint class's <c>[Authorize]</c> (as the authentication
/// and authorization middleware would), runs the same checks and upgrade hook as a mapped endpoint, answers 101 and
/// runs the connection on the transport's own pipes. Once the connection guards have run, nothing of the request is
/// kept: no Kestrel HTTP connection, request, headers or response exist for an idle socket.
/// </summary>
internal sealed class SocketListener
{
    private const int MaxHeaderCount = 100;
    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    private readonly ISocketEndpoint _endpoint;
    private readonly SocketAuthorization? _authorization;
    private readonly OriSocketsListenerOptions _options;
    private readonly SocketEndpointHandler _handler;
    private readonly ConnectionLifecycle _lifecycle;
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly bool _hasAuthentication;

    public SocketListener(IServiceProvider services, ISocketEndpoint endpoint, IAuthorizeData[] authorization, OriSocketsListenerOptions options)
    {
        _endpoint = endpoint;
        _authorization = authorization.Length == 0 ? null : new SocketAuthorization(authorization);
        _options = options;
        _handler = services.GetRequiredService<SocketEndpointHandler>();
        _lifecycle = services.GetRequiredService<ConnectionLifecycle>();
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _time = services.GetRequiredService<TimeProvider>();
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(SocketLog.Category);

        // Without authentication registered a handshake needs no service scope (none is made unless the hook asks for one).
        _hasAuthentication = services.GetService<IServiceProviderIsService>()?.IsService(typeof(IAuthenticationSchemeProvider)) ?? true;
    }

    /// <summary>
    /// Serves one accepted connection until it ends. The task is the lifecycle's own (unwrapped): no state machine of this
    /// class stays alive for an idle socket.
    /// </summary>
    public Task RunAsync(ConnectionContext connection) => StartAsync(connection).Unwrap();

    /// <summary>The handshake; then the connection's lifecycle, started and returned (it disposes the connection's services).</summary>
    private async Task<Task> StartAsync(ConnectionContext connection)
    {
        var services = new ConnectionServices(_scopes);
        (HttpContext Context, object? Data)? http;
        try
        {
            http = await HandshakeAsync(connection, services).ConfigureAwait(false);
        }
        catch
        {
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (http is not { } accepted)
        {
            await services.DisposeAsync().ConfigureAwait(false);
            return Task.CompletedTask;
        }

        if (connection is SocketTransportConnection own)
        {
            own.Upgraded = true; // a stopping listener waits for it to drain instead of aborting it
        }

        var transport = new UpgradedTransport(connection.Transport.Input, null, connection.Transport.Output, connection.Abort, services);
        return _lifecycle.RunAsync(accepted.Context, transport, accepted.Data, _endpoint);
    }

    /// <summary>Reads and answers the upgrade request: the request and the hook's data when it was answered 101, else null.</summary>
    private async Task<(HttpContext Context, object? Data)?> HandshakeAsync(ConnectionContext connection, ConnectionServices services)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        Head head;
        using (var deadline = new CancellationTokenSource(_options.RequestHeadersTimeout, _time))
        {
            head = await ReadHeadAsync(input, deadline.Token).ConfigureAwait(false);
        }

        if (head.Status != 0)
        {
            if (head.Status > 0)
            {
                SocketLog.ListenerRefused(_logger, head.Status, AddressOf(connection), head.Reason!);
                await WriteProblemAsync(output, head.Status, head.Reason!).ConfigureAwait(false);
            }

            return null;
        }

        if (!string.Equals(head.Path.Value, _options.Path, StringComparison.OrdinalIgnoreCase))
        {
            SocketLog.ListenerRefused(_logger, 404, AddressOf(connection), "not the socket path");
            await WriteProblemAsync(output, StatusCodes.Status404NotFound, $"This listener serves WebSocket connections at {_options.Path} only.").ConfigureAwait(false);
            return null;
        }

        // The handshake's services are its own: an authentication handler keeps its request, and must not keep it for
        // the connection's life. The connection's scope takes over for the guards and handlers.
        var body = new MemoryStream();
        var handshakeServices = new ConnectionServices(_scopes);
        await using var disposeHandshakeServices = handshakeServices.ConfigureAwait(false);
        var http = CreateContext(connection, head, handshakeServices, body);
        try
        {
            if (await AuthorizeAsync(http).ConfigureAwait(false) && await _handler.AcceptAsync(http).ConfigureAwait(false) is (true, var upgradeData))
            {
                http.Response.StatusCode = StatusCodes.Status101SwitchingProtocols;
                await WriteResponseAsync(output, http.Response, body, upgrade: true).ConfigureAwait(false);
                http.Features.Set<IServiceProvidersFeature>(services);
                return (http, upgradeData);
            }
        }
#pragma warning disable CA1031 // Application code (authentication, the hook) failed: the request is answered 500, the server goes on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // A failure because the peer left is no server error: nothing to log or answer then.
            if (!connection.ConnectionClosed.IsCancellationRequested)
            {
                SocketLog.ListenerFailed(_logger, ex);
                await WriteProblemAsync(output, StatusCodes.Status500InternalServerError, "The WebSocket handshake failed on the server.").ConfigureAwait(false);
            }

            return null;
        }

        SocketLog.ListenerRefused(_logger, http.Response.StatusCode, AddressOf(connection), "refused by the handshake's checks");
        await WriteResponseAsync(output, http.Response, body, upgrade: false).ConfigureAwait(false);
        return null;
    }

    /// <summary>The peer's address, for a refusal's log line (an accepted socket does not pay for the text).</summary>
    private static string AddressOf(ConnectionContext connection) => (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "unknown";

    /// <summary>
    /// Authenticates the request with the default scheme (the user, as <c>UseAuthentication</c> sets it) and, when the
    /// endpoint class carries <c>[Authorize]</c>, evaluates its policy: 401 (challenge) or 403 (forbid) when it fails.
    /// </summary>
    private async Task<bool> AuthorizeAsync(HttpContext http)
    {
        if (_hasAuthentication
            && http.RequestServices.GetService<IAuthenticationSchemeProvider>() is { } schemes
            && await schemes.GetDefaultAuthenticateSchemeAsync().ConfigureAwait(false) is { } scheme)
        {
            var result = await http.AuthenticateAsync(scheme.Name).ConfigureAwait(false);
            if (result.Principal is { } principal)
            {
                http.User = principal;
            }

            if (result.Succeeded)
            {
                http.Features.Set<IAuthenticateResultFeature>(new AuthenticationResultFeature(result));
            }
        }

        if (_authorization is null)
        {
            return true;
        }

        var policy = await _authorization.PolicyAsync(http.RequestServices, "The socket endpoint").ConfigureAwait(false);
        var evaluator = http.RequestServices.GetRequiredService<IPolicyEvaluator>();
        var authentication = await evaluator.AuthenticateAsync(policy, http).ConfigureAwait(false);
        var authorization = await evaluator.AuthorizeAsync(policy, authentication, http, http).ConfigureAwait(false);
        if (authorization.Succeeded)
        {
            return true;
        }

        var forbid = authorization.Forbidden;
        if (policy.AuthenticationSchemes.Count == 0)
        {
            await (forbid ? http.ForbidAsync() : http.ChallengeAsync()).ConfigureAwait(false);
        }

        foreach (var name in policy.AuthenticationSchemes)
        {
            await (forbid ? http.ForbidAsync(name) : http.ChallengeAsync(name)).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>An <see cref="HttpContext"/> for the request: its response is kept in memory until it is written.</summary>
    private static DefaultHttpContext CreateContext(ConnectionContext connection, Head head, ConnectionServices services, MemoryStream body)
    {
        var isTls = connection.Features.Get<ITlsHandshakeFeature>() is not null;
        var request = new HttpRequestFeature
        {
            Protocol = "HTTP/1.1",
            Method = head.Method,
            Scheme = isTls ? "https" : "http",
            Path = head.Path.Value ?? "/",
            QueryString = head.Query.Value ?? string.Empty,
            RawTarget = head.Target,
            Headers = head.Headers,
        };
        var features = new FeatureCollection(initialCapacity: 12); // the six here, the context's own and authentication's
        features.Set<IHttpRequestFeature>(request);
        features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body));
        features.Set<IHttpRequestLifetimeFeature>(new Lifetime(connection));
        features.Set<IServiceProvidersFeature>(services);
        var local = connection.LocalEndPoint as IPEndPoint;
        var remote = connection.RemoteEndPoint as IPEndPoint;
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature
        {
            ConnectionId = connection.ConnectionId,
            LocalIpAddress = local?.Address,
            LocalPort = local?.Port ?? 0,
            RemoteIpAddress = remote?.Address,
            RemotePort = remote?.Port ?? 0,
        });
        return new DefaultHttpContext(features);
    }

    /// <summary>
    /// Reads the request line and headers, within the time limit and size limit. The head's <see cref="Head.Status"/>
    /// is 0 when it is a well-formed HTTP/1.1 request, an HTTP status when it must be refused, -1 when the peer left.
    /// </summary>
    private async Task<Head> ReadHeadAsync(PipeReader input, CancellationToken deadline)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(deadline).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                return Head.Refuse(StatusCodes.Status408RequestTimeout, $"The request's head did not arrive within {_options.RequestHeadersTimeout.TotalSeconds:0.#} s.");
            }
#pragma warning disable CA1031 // A reset transport: the peer left.
            catch (Exception)
#pragma warning restore CA1031
            {
                return Head.Gone;
            }

            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (reader.TryReadTo(out ReadOnlySequence<byte> headBytes, HeadEnd, advancePastDelimiter: true))
            {
                var head = headBytes.Length + HeadEnd.Length > _options.MaxRequestHeadersSize
                    ? Head.Refuse(StatusCodes.Status431RequestHeaderFieldsTooLarge, $"The request's head is larger than {_options.MaxRequestHeadersSize} bytes.")
                    : Parse(headBytes);

                // What follows the head stays in the pipe: the first frames, if the client did not wait for the 101.
                input.AdvanceTo(reader.Position);
                return head;
            }

            if (buffer.Length > _options.MaxRequestHeadersSize)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                return Head.Refuse(StatusCodes.Status431RequestHeaderFieldsTooLarge, $"The request's head is larger than {_options.MaxRequestHeadersSize} bytes.");
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.End);
                return Head.Gone;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Parses an HTTP/1.1 request head (RFC 9112 sections 3 and 5), strictly: anything unusual is a 400.</summary>
    private static Head Parse(ReadOnlySequence<byte> bytes)
    {
        // Decoded into a pooled buffer: only what is kept becomes a string.
        var length = (int)bytes.Length;
        var chars = ArrayPool<char>.Shared.Rent(length);
        try
        {
            Encoding.Latin1.GetChars(bytes, chars);
            return Parse(chars.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private static Head Parse(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c > '\x7e' || (c < ' ' && c is not '\r' and not '\n' and not '\t'))
            {
                return Head.Refuse(StatusCodes.Status400BadRequest, "The request's head has a byte that is not printable ASCII.");
            }
        }

        // The request line, then one header per line: only what is kept becomes a string (a header's name and value).
        var rest = text;
        var end = rest.IndexOf("\r\n");
        var requestLine = end < 0 ? rest : rest[..end];
        rest = end < 0 ? [] : rest[(end + 2)..];
        Span<Range> parts = stackalloc Range[4];
        if (requestLine.Split(parts, ' ') != 3 || requestLine[parts[0]].IsEmpty || !IsToken(requestLine[parts[0]]) || !requestLine[parts[1]].StartsWith('/'))
        {
            return Head.Refuse(StatusCodes.Status400BadRequest, "The request line is not 'METHOD /path HTTP/1.1'.");
        }

        if (!requestLine[parts[2]].SequenceEqual("HTTP/1.1"))
        {
            return Head.Refuse(StatusCodes.Status505HttpVersionNotsupported, "A WebSocket upgrade needs HTTP/1.1.");
        }

        var lines = rest.Count("\r\n") + (rest.IsEmpty ? 0 : 1);
        if (lines > MaxHeaderCount)
        {
            return Head.Refuse(StatusCodes.Status431RequestHeaderFieldsTooLarge, $"The request has more than {MaxHeaderCount} header lines.");
        }

        IHeaderDictionary headers = new HeaderDictionary(lines);
        while (!rest.IsEmpty)
        {
            end = rest.IndexOf("\r\n");
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? [] : rest[(end + 2)..];
            var colon = line.IndexOf(':');
            if (colon <= 0 || !IsToken(line[..colon]) || line.ContainsAny('\r', '\n'))
            {
                // Also a folded line (it starts with white space): obsolete, refused (RFC 9112 section 5.2).
                return Head.Refuse(StatusCodes.Status400BadRequest, "A header line is malformed.");
            }

            var name = KnownName(line[..colon]);
            var value = KnownValue(line[(colon + 1)..].Trim(" \t"));
            headers[name] = headers.TryGetValue(name, out var existing) ? StringValues.Concat(existing, value) : value;
        }

        if (headers.Host.Count != 1)
        {
            return Head.Refuse(StatusCodes.Status400BadRequest, "An HTTP/1.1 request has exactly one Host header.");
        }

        if (headers.ContentLength is > 0 || headers.ContainsKey(HeaderNames.TransferEncoding))
        {
            return Head.Refuse(StatusCodes.Status400BadRequest, "A WebSocket upgrade request has no body.");
        }

        var target = requestLine[parts[1]].ToString();
        var query = target.IndexOf('?', StringComparison.Ordinal);
        PathString path;
        try
        {
            path = PathString.FromUriComponent(query < 0 ? target : target[..query]);
        }
        catch (UriFormatException)
        {
            return Head.Refuse(StatusCodes.Status400BadRequest, "The request's path is not a valid URI path.");
        }

        var method = requestLine[parts[0]] is "GET" ? HttpMethods.Get : requestLine[parts[0]].ToString();
        return new Head(0, null, method, target, path, query < 0 ? string.Empty : target[query..], headers);
    }

    /// <summary>The names every upgrade request has, as the framework's constants (names compare without case): no string per request.</summary>
    private static string KnownName(ReadOnlySpan<char> name) => name.Length switch
    {
        4 when name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase) => HeaderNames.Host,
        6 when name.Equals(HeaderNames.Origin, StringComparison.OrdinalIgnoreCase) => HeaderNames.Origin,
        7 when name.Equals(HeaderNames.Upgrade, StringComparison.OrdinalIgnoreCase) => HeaderNames.Upgrade,
        10 when name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase) => HeaderNames.Connection,
        10 when name.Equals(HeaderNames.UserAgent, StringComparison.OrdinalIgnoreCase) => HeaderNames.UserAgent,
        17 when name.Equals(HeaderNames.SecWebSocketKey, StringComparison.OrdinalIgnoreCase) => HeaderNames.SecWebSocketKey,
        21 when name.Equals(HeaderNames.SecWebSocketVersion, StringComparison.OrdinalIgnoreCase) => HeaderNames.SecWebSocketVersion,
        _ => name.ToString(),
    };

    /// <summary>The values an upgrade request's headers usually have, as constants (values are compared as sent).</summary>
    private static string KnownValue(ReadOnlySpan<char> value) => value switch
    {
        "websocket" => "websocket",
        "Upgrade" => "Upgrade",
        "13" => "13",
        _ => value.ToString(),
    };

    private static bool IsToken(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Writes a refusal with a problem body (RFC 9457) and <c>Connection: close</c>.</summary>
    private static async Task WriteProblemAsync(PipeWriter output, int status, string detail)
    {
        var response = new HttpResponseFeature { StatusCode = status };
        response.Headers.ContentType = "application/problem+json";
        var problem = System.Text.Json.JsonSerializer.Serialize(new ListenerProblem(status, ReasonPhrases.GetReasonPhrase(status), detail), ListenerProblemContext.Default.ListenerProblem);
        await WriteAsync(output, status, response.Headers, Encoding.UTF8.GetBytes(problem), upgrade: false).ConfigureAwait(false);
    }

    private static Task WriteResponseAsync(PipeWriter output, HttpResponse response, MemoryStream body, bool upgrade) =>
        WriteAsync(output, response.StatusCode, response.Headers, body.GetBuffer().AsMemory(0, (int)body.Length), upgrade);

    /// <summary>
    /// Writes the status line, the headers (a value with a line break is dropped) and the body. A refusal is sent at once;
    /// the 101 waits in the writer for the connection's first frame (<c>ori.ready</c>, or the guards' close), so that both
    /// leave in one send: one send syscall less per connect, and on loopback one less delivery the server's CPU pays for.
    /// </summary>
    private static async Task WriteAsync(PipeWriter output, int status, IHeaderDictionary headers, ReadOnlyMemory<byte> body, bool upgrade)
    {
        try
        {
            Latin1(output, "HTTP/1.1 ");
            Latin1(output, status.ToString(CultureInfo.InvariantCulture));
            Latin1(output, " ");
            Latin1(output, ReasonPhrases.GetReasonPhrase(status));
            Latin1(output, "\r\n");
            if (headers is HeaderDictionary known)
            {
                // The response's own dictionary: its enumerator is a struct (no allocation per handshake).
                foreach (var (name, values) in known)
                {
                    WriteHeader(output, name, values, upgrade);
                }
            }
            else
            {
                foreach (var (name, values) in headers)
                {
                    WriteHeader(output, name, values, upgrade);
                }
            }

            if (!upgrade)
            {
                Latin1(output, "Content-Length: ");
                Latin1(output, body.Length.ToString(CultureInfo.InvariantCulture));
                Latin1(output, "\r\nConnection: close\r\n");
            }

            Latin1(output, "\r\n");
            output.Write(body.Span);
            if (!upgrade)
            {
                await output.FlushAsync().ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // The peer left before the answer: nothing to tell it.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Writes a header's lines; a value or name with a line break is dropped, as is a refusal's own framing.</summary>
    private static void WriteHeader(PipeWriter output, string name, StringValues values, bool upgrade)
    {
        if (!upgrade && (name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.Connection, StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        foreach (var value in values)
        {
            if (value is not null && !value.AsSpan().ContainsAny('\r', '\n') && !name.AsSpan().ContainsAny('\r', '\n'))
            {
                Latin1(output, name);
                Latin1(output, ": ");
                Latin1(output, value);
                Latin1(output, "\r\n");
            }
        }
    }

    /// <summary>Writes <paramref name="text"/> (a head's text: ISO-8859-1, as HTTP/1.1 reads it) into the writer's buffer.</summary>
    private static void Latin1(PipeWriter output, string text)
    {
        var written = Encoding.Latin1.GetBytes(text, output.GetSpan(text.Length));
        output.Advance(written);
    }

    /// <summary>A parsed request head, or why it is refused.</summary>
    private sealed record Head(int Status, string? Reason, string Method, string Target, PathString Path, QueryString Query, IHeaderDictionary Headers)
    {
        public Head(int status, string? reason, string method, string target, PathString path, string query, IHeaderDictionary headers)
            : this(status, reason, method, target, path, new QueryString(query.Length == 0 ? null : query), headers)
        {
        }

        public static Head Gone { get; } = Refuse(-1, "gone");

        public static Head Refuse(int status, string reason) => new(status, reason, string.Empty, string.Empty, PathString.Empty, QueryString.Empty, new HeaderDictionary());
    }

    /// <summary>The request's lifetime is the connection's.</summary>
    private sealed class Lifetime(ConnectionContext connection) : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted
        {
            get => connection.ConnectionClosed;
            set { }
        }

        public void Abort() => connection.Abort();
    }

    /// <summary>What authentication found, as the authentication middleware leaves it for the endpoint.</summary>
    private sealed class AuthenticationResultFeature(AuthenticateResult result) : IAuthenticateResultFeature
    {
        public AuthenticateResult? AuthenticateResult { get; set; } = result;
    }
}

/// <summary>
/// A connection's service scope, made when first asked for (a service provider that defers to it, so that handing it on
/// makes none) and disposed with the connection.
/// </summary>
internal sealed class ConnectionServices(IServiceScopeFactory scopes) : IServiceProvidersFeature, IServiceProvider, IAsyncDisposable
{
    private AsyncServiceScope? _scope;
    private IServiceProvider? _services;

    public IServiceProvider RequestServices
    {
        get
        {
            if (_services is null)
            {
                _scope = scopes.CreateAsyncScope();
                _services = _scope.Value.ServiceProvider;
            }

            return _services;
        }
        set => _services = value;
    }

    public object? GetService(Type serviceType) => RequestServices.GetService(serviceType);

    public ValueTask DisposeAsync() => _scope?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>The problem body of a listener's refusal.</summary>
internal sealed record ListenerProblem(int Status, string Title, string Detail);

[System.Text.Json.Serialization.JsonSerializable(typeof(ListenerProblem))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class ListenerProblemContext : System.Text.Json.Serialization.JsonSerializerContext;
